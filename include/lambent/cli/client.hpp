#pragma once
/// Runs the client command that was parsed into a `client_commands` against the server at its endpoint.
/// Results go to stdout, progress, logs and errors to stderr; the return value is the exit status
/// (`exit_status` in requests.hpp, documented in docs/cli.md).

#include "lambent/cli/commands.hpp"

namespace lambent::cli {

/// Blocking. Only call when `c.selected()`.
[[nodiscard]] int run_client_command(const client_commands& c);

}  // namespace lambent::cli
