#pragma once
/// Errors as values: a stable code, a human message. The one mapping from a code to an HTTP status,
/// `x-amzn-ErrorType` and the body key lives in api/errors.cpp.

#include <boost/system/result.hpp>

#include <string>
#include <system_error>
#include <utility>

namespace lambent {

/// The AWS error types Lambent produces. Each value maps to exactly one wire error (api/errors.cpp).
enum class errc {
    ok = 0,
    validation,                 // ValidationException 400
    invalid_parameter_value,    // InvalidParameterValueException 400
    invalid_request_content,    // InvalidRequestContentException 400
    resource_not_found,         // ResourceNotFoundException 404
    resource_conflict,          // ResourceConflictException 409
    precondition_failed,        // PreconditionFailedException 412
    request_too_large,          // RequestEntityTooLargeException 413
    too_many_requests,          // TooManyRequestsException 429
    unknown_operation,          // UnknownOperationException 404
    method_not_allowed,         // UnknownOperationException 405 (known path, wrong method)
    service,                    // ServiceException 500
    resource_not_ready,         // ResourceNotReadyException 502
    invalid_zip_file,           // InvalidZipFileException 502 (stored code cannot be extracted)
    invalid_runtime,            // InvalidRuntimeException 502 (interpreter missing on the host)
    provisioned_not_found,      // ProvisionedConcurrencyConfigNotFoundException 404
    code_storage_exceeded,      // CodeStorageExceededException 400 (no space left for code in the data dir)
};

const std::error_category& lambent_category() noexcept;
inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), lambent_category()}; }

struct error {
    errc code = errc::service;
    std::string message;
    /// Extra wire member for TooManyRequestsException (`Reason`).
    std::string reason;
};

inline error make_error(errc code, std::string message) { return error{code, std::move(message), {}}; }

template <class T>
using result = boost::system::result<T, error>;

}  // namespace lambent

template <>
struct std::is_error_code_enum<lambent::errc> : std::true_type {};
