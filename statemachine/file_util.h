#pragma once
// The few file-system operations that crash safety rests on, as Status
// values with the path and the OS error in the message.
#include <string>
#include <string_view>
#include <vector>

#include "raftlog/status.h"

namespace kvraft::statemachine {

// fsync of a directory: makes the creations, renames and removals in it
// durable (a rename is not, until its directory is synced).
Status SyncDirectory(const std::string& dir);
// Creates or truncates `path`, writes `contents` and fsyncs the file.
Status WriteFileSynced(const std::string& path, std::string_view contents);
// Reads a file of at most maxBytes.
Status ReadSmallFile(const std::string& path, size_t maxBytes, std::string* contents);
// rename(2): atomic replacement of `to`, if it exists.
Status RenamePath(const std::string& from, const std::string& to);
// Removes a file or a directory tree; a missing path is not an error.
Status RemovePath(const std::string& path);
// Names of the entries of `dir`, sorted.
Status ListDirectory(const std::string& dir, std::vector<std::string>* names);

// "<what>: <strerror(errno)>" for the current errno.
std::string ErrnoMessage(const std::string& what);

}  // namespace kvraft::statemachine
