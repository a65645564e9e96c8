// Mixes: the parser takes operation:weight lists and says what is wrong
// with a bad one; picks follow the weights; the presets are the YCSB core
// workloads as published.
#include "bench/op_mix.h"

#include <map>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "bench/random.h"

namespace kvraft::bench {
namespace {

using ::testing::HasSubstr;

OpMix Parsed(const std::string& text) {
  OpMix mix;
  std::string error;
  EXPECT_TRUE(OpMix::Parse(text, &mix, &error)) << text << ": " << error;
  return mix;
}

std::string ParseError(const std::string& text) {
  OpMix mix;
  std::string error;
  EXPECT_FALSE(OpMix::Parse(text, &mix, &error)) << text << " was accepted";
  return error;
}

TEST(KvbenchMix, ParsesOperationWeightPairs) {
  EXPECT_EQ(Parsed("get:95,put:5").weights(),
            (std::vector<OpWeight>{{OpKind::kGet, 95}, {OpKind::kPut, 5}}));
  EXPECT_EQ(Parsed(" get : 1 , rmw:2,insert:3 ").weights(),
            (std::vector<OpWeight>{{OpKind::kGet, 1}, {OpKind::kReadModifyWrite, 2},
                                   {OpKind::kInsert, 3}}));
  EXPECT_EQ(Parsed("cas:7").ToString(), "cas:7");
  EXPECT_EQ(Parsed("get:60,put:10,cas:10,delete:5,range:5,append:5,rmw:5").ToString(),
            "get:60,put:10,cas:10,delete:5,range:5,append:5,rmw:5");
}

TEST(KvbenchMix, BadMixesSayWhatIsWrong) {
  EXPECT_THAT(ParseError(""), HasSubstr("empty"));
  EXPECT_THAT(ParseError("get"), HasSubstr("not operation:weight"));
  EXPECT_THAT(ParseError("get:95,"), HasSubstr("not operation:weight"));
  EXPECT_THAT(ParseError("get:95,scan:5"), HasSubstr("unknown operation 'scan'"));
  EXPECT_THAT(ParseError("get:95,scan:5"), HasSubstr("get, put, append, cas, delete, range"));
  EXPECT_THAT(ParseError("get:0"), HasSubstr("whole number from 1"));
  EXPECT_THAT(ParseError("get:-3"), HasSubstr("whole number from 1"));
  EXPECT_THAT(ParseError("get:2.5"), HasSubstr("whole number from 1"));
  EXPECT_THAT(ParseError("get:"), HasSubstr("whole number from 1"));
  EXPECT_THAT(ParseError("get:1,get:2"), HasSubstr("get appears twice"));
}

TEST(KvbenchMix, PicksFollowTheWeights) {
  const OpMix mix = Parsed("get:70,put:20,cas:10");
  Rng rng(11);
  std::map<OpKind, int> picks;
  constexpr int kPicks = 100000;
  for (int i = 0; i < kPicks; ++i) ++picks[mix.Pick(rng())];
  EXPECT_NEAR(picks[OpKind::kGet], 70000, 1000);
  EXPECT_NEAR(picks[OpKind::kPut], 20000, 1000);
  EXPECT_NEAR(picks[OpKind::kCas], 10000, 1000);
  EXPECT_EQ(picks.size(), 3u);
}

WorkloadPreset Preset(const std::string& name) {
  WorkloadPreset preset;
  std::string error;
  EXPECT_TRUE(FindWorkloadPreset(name, true, "", &preset, &error)) << error;
  return preset;
}

TEST(KvbenchMix, YcsbPresetsAreTheCoreWorkloads) {
  EXPECT_EQ(Preset("ycsb-a").mix.ToString(), "get:50,put:50");
  EXPECT_EQ(Preset("ycsb-b").mix.ToString(), "get:95,put:5");
  EXPECT_EQ(Preset("ycsb-c").mix.ToString(), "get:1");
  EXPECT_EQ(Preset("ycsb-d").mix.ToString(), "get:95,insert:5");
  EXPECT_EQ(Preset("ycsb-e").mix.ToString(), "range:95,insert:5");
  EXPECT_EQ(Preset("ycsb-f").mix.ToString(), "get:50,rmw:50");
  for (const char* name : {"ycsb-a", "ycsb-b", "ycsb-c", "ycsb-e", "ycsb-f"}) {
    EXPECT_EQ(Preset(name).keys, KeyOrder::kZipfian) << name;
  }
  EXPECT_EQ(Preset("ycsb-d").keys, KeyOrder::kLatest);
  EXPECT_TRUE(Preset("ycsb-e").rangeLengthUniform);
  EXPECT_EQ(Preset("ycsb-e").defaultRangeLimit, 100);
  EXPECT_EQ(Preset("put").mix.ToString(), "put:1");
  EXPECT_EQ(Preset("put").keys, KeyOrder::kUniform);
}

TEST(KvbenchMix, MixFlagAndWorkloadNameMustAgree) {
  WorkloadPreset preset;
  std::string error;
  EXPECT_TRUE(FindWorkloadPreset("put", /*nameGiven=*/false, "get:1,put:1", &preset, &error));
  EXPECT_EQ(preset.mix.ToString(), "get:1,put:1");
  EXPECT_TRUE(FindWorkloadPreset("mix", true, "get:1", &preset, &error));
  EXPECT_FALSE(FindWorkloadPreset("get", true, "get:1", &preset, &error));
  EXPECT_THAT(error, HasSubstr("--mix goes with --workload=mix"));
  EXPECT_FALSE(FindWorkloadPreset("mix", true, "", &preset, &error));
  EXPECT_THAT(error, HasSubstr("needs --mix"));
  EXPECT_FALSE(FindWorkloadPreset("scan", true, "", &preset, &error));
  EXPECT_THAT(error, HasSubstr("unknown --workload 'scan'"));
  EXPECT_THAT(error, HasSubstr("ycsb-f"));
}

TEST(KvbenchMix, HelpNamesEveryWorkload) {
  const std::string help = WorkloadHelp();
  for (const char* name : {"put:", "get:", "append:", "cas:", "delete:", "range:", "mix:",
                           "ycsb-a:", "ycsb-b:", "ycsb-c:", "ycsb-d:", "ycsb-e:", "ycsb-f:"}) {
    EXPECT_THAT(help, HasSubstr(std::string("  ") + name));
  }
}

}  // namespace
}  // namespace kvraft::bench
