#include "statemachine/session_table.h"

#include <glog/logging.h>

#include <algorithm>
#include <memory>

namespace kvraft::statemachine {

Status SessionTable::Load(rocksdb::DB* db, const rocksdb::Snapshot* snapshot) {
  sessions_.clear();
  byLastActive_.clear();
  changed_.clear();
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot;
  ro.fill_cache = false;  // a one-off scan
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, cf_));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string_view key(it->key().data(), it->key().size());
    uint64_t clientId = 0, sequence = 0;
    bool isReply = false;
    if (!ParseSessionKey(key, &clientId, &isReply, &sequence)) {
      return Status::Corruption("the sessions table holds a key of " + std::to_string(key.size()) +
                                " bytes (expected 8 or 16)");
    }
    if (!isReply) {
      Session session;
      Status s = DecodeSessionHeader(std::string_view(it->value().data(), it->value().size()),
                                     &session.header);
      if (!s.ok())
        return Status::Corruption("session " + std::to_string(clientId) + ": " + s.message());
      byLastActive_.insert({session.header.lastActiveMs, clientId});
      sessions_.emplace(clientId, std::move(session));
      continue;
    }
    // A session's header sorts before its replies, so its entry exists.
    auto found = sessions_.find(clientId);
    if (found == sessions_.end()) {
      return Status::Corruption("the sessions table holds a reply of client " +
                                std::to_string(clientId) + " (sequence " +
                                std::to_string(sequence) + ") but no such session");
    }
    found->second.cachedSequences.insert(sequence);
  }
  if (!it->status().ok())
    return Status::IOError("reading the sessions table: " + it->status().ToString());
  return Status::Ok();
}

void SessionTable::Erase(uint64_t clientId, Session& session, rocksdb::WriteBatchBase* batch) {
  batch->Delete(cf_, SessionHeaderKey(clientId)).PermitUncheckedError();
  for (uint64_t seq : session.cachedSequences) {
    batch->Delete(cf_, CachedReplyKey(clientId, seq)).PermitUncheckedError();
  }
  byLastActive_.erase({session.header.lastActiveMs, clientId});
  changed_.erase(clientId);
  sessions_.erase(clientId);
}

void SessionTable::ExpireIdle(uint64_t nowMs, uint64_t expiryMs, rocksdb::WriteBatchBase* batch) {
  while (!byLastActive_.empty()) {
    const auto [lastActiveMs, clientId] = *byLastActive_.begin();
    if (nowMs - lastActiveMs <= expiryMs)
      break;  // lastActiveMs <= nowMs: the clock never goes back
    VLOG(1) << "session " << clientId << " expired: idle since leader time " << lastActiveMs
            << " ms, now " << nowMs << " ms (expiry " << expiryMs << " ms)";
    Erase(clientId, sessions_.at(clientId), batch);
  }
}

void SessionTable::Register(uint64_t clientId, uint64_t nowMs) {
  Session session;
  session.header.lastActiveMs = nowMs;
  const bool inserted = sessions_.emplace(clientId, std::move(session)).second;
  // Ids are log indexes and each index is applied once.
  CHECK(inserted) << "session " << clientId << " registered twice";
  byLastActive_.insert({nowMs, clientId});
  changed_.insert(clientId);
}

bool SessionTable::Touch(const Command& command, uint64_t nowMs, rocksdb::WriteBatchBase* batch) {
  auto found = sessions_.find(command.clientId);
  if (found == sessions_.end()) return false;
  Session& session = found->second;
  if (nowMs > session.header.lastActiveMs) {
    byLastActive_.erase({session.header.lastActiveMs, command.clientId});
    session.header.lastActiveMs = nowMs;
    byLastActive_.insert({nowMs, command.clientId});
    changed_.insert(command.clientId);
  }
  if (command.firstOutstanding > session.header.firstOutstanding) {
    session.header.firstOutstanding = command.firstOutstanding;
    auto& cached = session.cachedSequences;
    const auto keepFrom = cached.lower_bound(command.firstOutstanding);
    for (auto it = cached.begin(); it != keepFrom; ++it) {
      batch->Delete(cf_, CachedReplyKey(command.clientId, *it)).PermitUncheckedError();
    }
    cached.erase(cached.begin(), keepFrom);
    auto& ok = session.header.okSequences;
    ok.erase(ok.begin(), std::lower_bound(ok.begin(), ok.end(), command.firstOutstanding));
    changed_.insert(command.clientId);
  }
  return true;
}

SessionTable::Admission SessionTable::Admit(uint64_t clientId, uint64_t sequence) const {
  const Session& session = sessions_.at(clientId);
  if (session.cachedSequences.count(sequence) != 0) return Admission::kCached;
  const auto& ok = session.header.okSequences;
  if (std::binary_search(ok.begin(), ok.end(), sequence)) return Admission::kCachedOk;
  if (sequence < session.header.firstOutstanding) return Admission::kStale;
  return Admission::kApply;
}

void SessionTable::RecordReply(uint64_t clientId, uint64_t sequence, const Reply& reply,
                               rocksdb::WriteBatchBase* batch) {
  Session& session = sessions_.at(clientId);
  CHECK_GE(sequence, session.header.firstOutstanding) << "client " << clientId;
  auto& ok = session.header.okSequences;
  if (reply.plainOk() && ok.size() < kMaxOkSequences) {
    // Sequences mostly arrive in order: the insert is nearly always at the end.
    ok.insert(std::upper_bound(ok.begin(), ok.end(), sequence), sequence);
    changed_.insert(clientId);
    return;
  }
  session.cachedSequences.insert(sequence);
  batch->Put(cf_, CachedReplyKey(clientId, sequence), EncodeReply(reply)).PermitUncheckedError();
}

void SessionTable::WriteChangedHeaders(rocksdb::WriteBatchBase* batch) {
  for (uint64_t clientId : changed_) {
    batch->Put(cf_, SessionHeaderKey(clientId), EncodeSessionHeader(sessions_.at(clientId).header))
        .PermitUncheckedError();
  }
  changed_.clear();
}

size_t SessionTable::CachedReplies(uint64_t clientId) const {
  auto found = sessions_.find(clientId);
  if (found == sessions_.end()) return 0;
  return found->second.cachedSequences.size() + found->second.header.okSequences.size();
}

}  // namespace kvraft::statemachine
