#include "lambent/common/error.hpp"

namespace lambent {
namespace {
class category final : public std::error_category {
public:
    const char* name() const noexcept override { return "lambent"; }
    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
        case errc::ok: return "ok";
        case errc::validation: return "validation failed";
        case errc::invalid_parameter_value: return "invalid parameter value";
        case errc::invalid_request_content: return "invalid request content";
        case errc::resource_not_found: return "resource not found";
        case errc::resource_conflict: return "resource conflict";
        case errc::precondition_failed: return "precondition failed";
        case errc::request_too_large: return "request too large";
        case errc::too_many_requests: return "too many requests";
        case errc::unknown_operation: return "unknown operation";
        case errc::method_not_allowed: return "method not allowed";
        case errc::service: return "service error";
        case errc::resource_not_ready: return "resource not ready";
        case errc::invalid_zip_file: return "invalid zip file";
        case errc::invalid_runtime: return "invalid runtime";
        case errc::provisioned_not_found: return "provisioned concurrency config not found";
        case errc::code_storage_exceeded: return "code storage exceeded";
        }
        return "unknown";
    }
};
}  // namespace

const std::error_category& lambent_category() noexcept {
    static const category instance;
    return instance;
}
}  // namespace lambent
