#include "lambent/api/errors.hpp"

#include <nlohmann/json.hpp>

namespace lambent::api {

using status = http::bhttp::status;

namespace {
struct wire_error {
    std::string_view type;
    status http_status;
    // The body key follows the member name of the error shape in the model ("Message" or "message").
    std::string_view message_key;
};

wire_error wire(errc code) {
    switch (code) {
    case errc::validation: return {"ValidationException", status::bad_request, "message"};
    case errc::invalid_parameter_value: return {"InvalidParameterValueException", status::bad_request, "message"};
    case errc::invalid_request_content: return {"InvalidRequestContentException", status::bad_request, "message"};
    case errc::resource_not_found: return {"ResourceNotFoundException", status::not_found, "Message"};
    case errc::resource_conflict: return {"ResourceConflictException", status::conflict, "message"};
    case errc::precondition_failed: return {"PreconditionFailedException", status::precondition_failed, "message"};
    case errc::request_too_large: return {"RequestEntityTooLargeException", status::payload_too_large, "message"};
    case errc::too_many_requests: return {"TooManyRequestsException", status::too_many_requests, "message"};
    case errc::unknown_operation: return {"UnknownOperationException", status::not_found, "message"};
    case errc::method_not_allowed: return {"UnknownOperationException", status::method_not_allowed, "message"};
    case errc::resource_not_ready: return {"ResourceNotReadyException", status::bad_gateway, "message"};
    case errc::invalid_zip_file: return {"InvalidZipFileException", status::bad_gateway, "Message"};
    case errc::invalid_runtime: return {"InvalidRuntimeException", status::bad_gateway, "Message"};
    case errc::provisioned_not_found:
        return {"ProvisionedConcurrencyConfigNotFoundException", status::not_found, "message"};
    case errc::code_storage_exceeded: return {"CodeStorageExceededException", status::bad_request, "message"};
    case errc::ok:
    case errc::service: break;
    }
    return {"ServiceException", status::internal_server_error, "Message"};
}
}  // namespace

std::string_view error_type(errc code) { return wire(code).type; }
status error_status(errc code) { return wire(code).http_status; }

http::response error_response(const error& e, const std::string& request_id) {
    const auto w = wire(e.code);
    nlohmann::json body;
    body["Type"] = static_cast<unsigned>(w.http_status) >= 500 ? "Service" : "User";
    body[std::string(w.message_key)] = e.message;
    if (!e.reason.empty()) {
        body["Reason"] = e.reason;
    }
    // Messages can quote user bytes that are not UTF-8: replace them rather than fail.
    auto res = http::make_response(w.http_status, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    res.set("x-amzn-RequestId", request_id);
    res.set("x-amzn-ErrorType", w.type);
    if (e.code == errc::too_many_requests) {
        res.set("Retry-After", "1");
    }
    return res;
}

http::response json_response(status s, const nlohmann::json& body, const std::string& request_id) {
    auto res = http::make_response(s, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    res.set("x-amzn-RequestId", request_id);
    return res;
}

http::response empty_response(status s, const std::string& request_id) {
    http::response res{s, 11};
    res.set("x-amzn-RequestId", request_id);
    return res;
}

}  // namespace lambent::api
