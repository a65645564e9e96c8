#include "statemachine/file_util.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace kvraft::statemachine {

namespace fs = std::filesystem;

std::string ErrnoMessage(const std::string& what) { return what + ": " + std::strerror(errno); }

Status SyncDirectory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::IOError(ErrnoMessage("cannot open directory " + dir + " to sync it"));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) {
    errno = err;
    return Status::IOError(ErrnoMessage("cannot fsync directory " + dir));
  }
  return Status::Ok();
}

Status WriteFileSynced(const std::string& path, std::string_view contents) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError(ErrnoMessage("cannot create " + path));
  size_t done = 0;
  while (done < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Status s = Status::IOError(ErrnoMessage("cannot write " + path));
      ::close(fd);
      return s;
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    Status s = Status::IOError(ErrnoMessage("cannot fsync " + path));
    ::close(fd);
    return s;
  }
  if (::close(fd) != 0) return Status::IOError(ErrnoMessage("cannot close " + path));
  return Status::Ok();
}

Status ReadSmallFile(const std::string& path, size_t maxBytes, std::string* contents) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IOError(ErrnoMessage("cannot open " + path));
  contents->assign(maxBytes + 1, '\0');
  size_t done = 0;
  while (done < contents->size()) {
    const ssize_t n = ::read(fd, contents->data() + done, contents->size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Status s = Status::IOError(ErrnoMessage("cannot read " + path));
      ::close(fd);
      return s;
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  if (done > maxBytes) {
    return Status::Corruption(path + " is larger than the " + std::to_string(maxBytes) +
                              " bytes it can hold");
  }
  contents->resize(done);
  return Status::Ok();
}

Status RenamePath(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    return Status::IOError(ErrnoMessage("cannot rename " + from + " to " + to));
  }
  return Status::Ok();
}

Status RemovePath(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) return Status::IOError("cannot remove " + path + ": " + ec.message());
  return Status::Ok();
}

Status ListDirectory(const std::string& dir, std::vector<std::string>* names) {
  names->clear();
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    names->push_back(it->path().filename().string());
  }
  if (ec) return Status::IOError("cannot list " + dir + ": " + ec.message());
  std::sort(names->begin(), names->end());
  return Status::Ok();
}

}  // namespace kvraft::statemachine
