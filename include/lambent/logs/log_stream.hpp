#pragma once
/// One log stream per execution environment (`YYYY/MM/DD/[VERSION]<32 hex>`), stored under
/// `DATA_DIR/logs/<function>/` as lines of `<epoch ms>\t<message>`. Lines are buffered in memory and written
/// with one write() at the end of each invocation (and once a second for output between invocations), so
/// a finished invocation's log survives a crash of the server; nothing is fsynced on the invoke path.

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>

namespace lambent::logs {

class log_stream {
public:
    /// Opens (appending) the file for `stream_name` of `function` under `logs_dir`. A stream that cannot be
    /// opened drops its lines (the server log says so once).
    log_stream(const std::filesystem::path& logs_dir, const std::string& function, std::string stream_name);
    ~log_stream();
    log_stream(const log_stream&) = delete;
    log_stream& operator=(const log_stream&) = delete;

    const std::string& name() const { return name_; }
    /// Appends one event (no trailing newline in `message`).
    void write(std::string_view message, std::int64_t epoch_ms);
    void flush();

private:
    std::string name_;
    std::FILE* file_ = nullptr;
};

/// File name used for a stream name (slashes and brackets are not path-friendly).
std::string stream_file_name(std::string_view stream_name);

}  // namespace lambent::logs
