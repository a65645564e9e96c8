#include "tools/kvadmin_print.h"

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <system_error>

namespace kvraft::tools {

std::string Escape(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (unsigned char c : bytes) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c >= 0x20 && c < 0x7f) {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

std::string Quoted(std::string_view bytes) { return "\"" + Escape(bytes) + "\""; }

std::string Hex(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(2 * bytes.size());
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

void PutBytes(nlohmann::json& json, const std::string& name, std::string_view bytes) {
  json[name] = Escape(bytes);
  json[name + "_hex"] = Hex(bytes);
}

void PutPreview(nlohmann::json& json, const std::string& name, std::string_view bytes) {
  PutBytes(json, name + "_preview", bytes.substr(0, kPreviewBytes));
  json[name + "_size"] = bytes.size();
}

std::string PreviewText(std::string_view bytes) {
  std::string text = Quoted(bytes.substr(0, kPreviewBytes));
  if (bytes.size() > kPreviewBytes) text += "...";
  return text + " (" + std::to_string(bytes.size()) + " bytes)";
}

void Emit(const CommandOutput& out, bool json) {
  if (json) {
    std::cout << out.json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else {
    for (const std::string& line : out.lines) std::cout << line << "\n";
  }
  std::cout.flush();
}

uint64_t DiskBytes(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  uint64_t total = 0;
  // Bounded by the directory's size; a file vanishing under a running kvd
  // is skipped (its size error is ignored).
  for (fs::recursive_directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code fileEc;
    if (it->is_regular_file(fileEc)) {
      const uint64_t size = it->file_size(fileEc);
      if (!fileEc) total += size;
    }
  }
  return total;
}

}  // namespace kvraft::tools
