#pragma once
// How kvadmin shows what it read: one rule for bytes, used by every
// command (tools/KVADMIN.md, "Bytes"):
//   plain  a byte string is printed quoted, "...", with printable ASCII as
//          is except `"` and `\`, which get a backslash, and every other
//          byte as \xNN;
//   JSON   a byte string field NAME holds that same escaped text (without
//          the quotes), and NAME_hex holds the exact bytes in lowercase hex.
// So plain output is one line per item whatever the bytes, and JSON output
// is always valid UTF-8 and still exact.
#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace kvraft::tools {

// Bytes shown in a value preview (`log`).
constexpr size_t kPreviewBytes = 32;

std::string Escape(std::string_view bytes);
std::string Quoted(std::string_view bytes);  // "..." around Escape()
std::string Hex(std::string_view bytes);

// Sets json[name] = Escape(bytes) and json[name + "_hex"] = Hex(bytes).
void PutBytes(nlohmann::json& json, const std::string& name, std::string_view bytes);
// The first kPreviewBytes of `bytes` as PutBytes(name + "_preview") plus
// name + "_size" (the full size).
void PutPreview(nlohmann::json& json, const std::string& name, std::string_view bytes);
// The plain form of a preview: "first bytes"... (N bytes), or "all" (N bytes).
std::string PreviewText(std::string_view bytes);

// What a command produced: lines for people and a JSON document for
// scripts, built together so that they say the same; and its exit code.
struct CommandOutput {
  std::vector<std::string> lines;
  nlohmann::json json = nlohmann::json::object();
  int exitCode = 0;
};

// Writes `out` to stdout: the lines, or the JSON document (pretty-printed,
// with invalid UTF-8 replaced, never thrown on).
void Emit(const CommandOutput& out, bool json);

// Sums the sizes of the regular files under `path` (0 if it is missing).
uint64_t DiskBytes(const std::string& path);

}  // namespace kvraft::tools
