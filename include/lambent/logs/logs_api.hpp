#pragma once
/// The CloudWatch Logs API subset (AWS JSON 1.1, `X-Amz-Target: Logs_20140328.<Operation>`) over the log
/// streams that `log_stream` writes: DescribeLogGroups, DescribeLogStreams, GetLogEvents, FilterLogEvents
/// (lambda-contract.md §10). Log group `/aws/lambda/NAME` is the directory `logs_dir/NAME`; each
/// `*.log` file in it is one log stream (first line `#stream\t<name>`, then `<epoch ms>\t<message>` lines).
///
/// Reading assumes what the writer guarantees: a stream only grows by whole lines appended in time order.
/// Pagination tokens are byte offsets into the stream files, so a page reads only what it returns (plus a
/// binary search for `startTime`); a line still being written (no trailing newline yet) is not visible.

#include "lambent/common/error.hpp"

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace lambent::logs {

struct logs_options {
    std::filesystem::path logs_dir;
    std::string region = "us-east-1";
    std::string account = "000000000000";
    int retention_days = 0;  // 0 = keep forever
};

class logs_api {
public:
    explicit logs_api(logs_options o);

    /// One AWS JSON 1.1 response: `status` 200 with a JSON body, or 400/500 with
    /// `{"__type": error_type, "message": …}` (error_type is also meant for `x-amzn-ErrorType`).
    struct reply {
        unsigned status = 200;
        std::string body;
        std::string error_type;  // empty on success
    };

    /// One AWS JSON 1.1 call. `operation` is what follows "Logs_20140328." in X-Amz-Target; `body` the
    /// request JSON (empty = `{}`). Thread-safe (no state besides the options); blocking (file I/O), so run
    /// it on the blocking pool. Errors: InvalidParameterException (bad members), ResourceNotFoundException
    /// (unknown group or stream), SerializationException (not JSON, wrong member type),
    /// UnknownOperationException, ServiceUnavailableException (I/O failure).
    [[nodiscard]] reply handle(std::string_view operation, std::string_view body) const;

    /// Deletes stream files whose newest event is older than the retention period (a no-op when
    /// retention_days is 0). Older events in streams that are still written to are hidden from every
    /// operation instead of being cut out of the file (a live worker appends to it). Thread-safe, blocking.
    void apply_retention() const;

    /// Response content type of every reply.
    static constexpr std::string_view content_type = "application/x-amz-json-1.1";

private:
    logs_options options_;
};

/// A CloudWatch Logs filter pattern for unstructured events: space-separated terms that must all appear,
/// `"quoted phrases"` (for spaces and hyphens), `?term` alternatives (at least one must appear when any is
/// given) and `-term` exclusions. Matching is case-sensitive; the empty pattern matches everything.
/// JSON (`{ … }`), space-delimited (`[ … ]`) and regular-expression (`%…%`) patterns are refused.
class filter_pattern {
public:
    /// InvalidParameterException-worded error (errc::validation) for a malformed pattern.
    [[nodiscard]] static result<filter_pattern> parse(std::string_view pattern);
    [[nodiscard]] bool matches(std::string_view message) const;

    std::vector<std::string> required;
    std::vector<std::string> any_of;
    std::vector<std::string> excluded;
};

}  // namespace lambent::logs
