#include "lambent/logs/log_stream.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdio>

namespace lambent::logs {

std::string stream_file_name(std::string_view stream_name) {
    std::string out;
    for (char c : stream_name) {
        out.push_back(c == '/' ? '-' : (c == '[' || c == ']' || c == '$') ? '_' : c);
    }
    return out + ".log";
}

log_stream::log_stream(const std::filesystem::path& logs_dir, const std::string& function, std::string stream_name)
    : name_(std::move(stream_name)) {
    std::error_code ec;
    const auto dir = logs_dir / function;
    std::filesystem::create_directories(dir, ec);
    const auto path = dir / stream_file_name(name_);
    file_ = std::fopen(path.c_str(), "ae");
    if (file_ == nullptr) {
        spdlog::warn("logs: cannot open {}; this stream's lines are dropped", path.string());
        return;
    }
    // First line: the stream's real name, so the Logs API can list it.
    std::fprintf(file_, "#stream\t%s\n", name_.c_str());
}

log_stream::~log_stream() {
    if (file_ != nullptr) std::fclose(file_);
}

void log_stream::write(std::string_view message, std::int64_t epoch_ms) {
    if (file_ == nullptr) return;
    // Only the event loop's thread writes a stream: the unlocked stdio calls skip a lock per call.
    char prefix[24];
    const auto end = fmt::format_to_n(prefix, sizeof prefix - 1, "{}", epoch_ms).out;
    *end = '\t';
    fwrite_unlocked(prefix, 1, static_cast<std::size_t>(end - prefix) + 1, file_);
    fwrite_unlocked(message.data(), 1, message.size(), file_);
    fputc_unlocked('\n', file_);
}

void log_stream::flush() {
    if (file_ != nullptr) std::fflush(file_);
}

}  // namespace lambent::logs
