#include "lambent/logs/log_stream.hpp"

#include <spdlog/spdlog.h>

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
    std::fprintf(file_, "%lld\t%.*s\n", static_cast<long long>(epoch_ms), static_cast<int>(message.size()), message.data());
}

void log_stream::flush() {
    if (file_ != nullptr) std::fflush(file_);
}

}  // namespace lambent::logs
