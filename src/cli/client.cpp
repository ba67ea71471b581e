#include "lambent/cli/client.hpp"

#include "lambent/cli/events.hpp"
#include "lambent/cli/http_client.hpp"
#include "lambent/cli/zip_folder.hpp"
#include "lambent/common/codec.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <set>
#include <thread>

#include <unistd.h>

namespace lambent::cli {

namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr std::string_view not_found_type = "ResourceNotFoundException";
constexpr auto ready_timeout = 120s;
constexpr auto follow_poll_interval = 1s;
constexpr std::uint64_t progress_threshold_bytes = 1024 * 1024;
/// Invoke waits for the function: up to its timeout (900 s at most) plus a cold start.
constexpr std::chrono::milliseconds invoke_response_timeout = 960s;

void print_error(std::string_view message) { fmt::print(stderr, "error: {}\n", message); }

std::int64_t now_ms() { return codec::now_ms().time_since_epoch().count(); }

/// Writes bytes as they are (a result may not be text) and ends the line if the result did not.
void write_result(std::FILE* out, std::string_view bytes) {
    std::fwrite(bytes.data(), 1, bytes.size(), out);
    if (!bytes.empty() && bytes.back() != '\n') std::fputc('\n', out);
    std::fflush(out);
}

/// `@-` (stdin), `@FILE`, or the text itself.
[[nodiscard]] result<std::string> read_input(const std::string& spec, std::string_view what) {
    if (spec.empty() || spec.front() != '@') return spec;
    if (spec == "@-") {
        std::string text{std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
        return text;
    }
    const std::string path = spec.substr(1);
    std::ifstream in(path, std::ios::binary);
    if (!in) return make_error(errc::validation, fmt::format("{}: cannot read the file {}", what, path));
    return std::string{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// One API call: a response, or the exit status after the reason was printed (3 when the server cannot be
/// reached, 2 for an API error unless `accept_errors`).
struct call_result {
    std::optional<http_response> response;
    int exit_status = exit_ok;
    std::optional<api_error> api;  // set when the response was an error and accept_errors was true
};

call_result call(const endpoint& ep, const http_request& req, const send_options& opts = {},
                 bool accept_errors = false) {
    call_result out;
    auto r = send(ep, req, opts);
    if (!r) {
        print_error(r.error().message);
        out.exit_status = exit_unreachable;
        return out;
    }
    if (auto e = decode_api_error(*r)) {
        if (!accept_errors) {
            print_error(fmt::format("{}: {}", e->type, e->message));
            out.exit_status = exit_usage;
            return out;
        }
        out.api = std::move(e);
    }
    out.response = std::move(*r);
    return out;
}

/// Progress on stderr for uploads over 1 MB: a self-updating line on a terminal, start and end otherwise.
send_options upload_options(std::size_t body_bytes) {
    send_options opts;
    if (body_bytes <= progress_threshold_bytes) return opts;
    const bool tty = ::isatty(STDERR_FILENO) == 1;
    const auto started = std::chrono::steady_clock::now();
    fmt::print(stderr, "uploading {}{}", human_bytes(body_bytes), tty ? "" : "\n");
    opts.on_upload_progress = [tty, started](std::uint64_t sent, std::uint64_t total) {
        if (tty) fmt::print(stderr, "\ruploading {}: {:3}%", human_bytes(total), sent * 100 / total);
        if (sent == total) {
            const auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
            fmt::print(stderr, "{}uploaded {} in {:.1f} s\n", tty ? "\r\033[K" : "", human_bytes(total), secs);
        }
    };
    return opts;
}

/// Polls GetFunction until the function is Active with its last update Successful.
int wait_ready(const endpoint& ep, const std::string& name) {
    const auto deadline = std::chrono::steady_clock::now() + ready_timeout;
    auto interval = 50ms;
    while (true) {
        auto r = call(ep, get_function_request(name));
        if (!r.response) return r.exit_status;
        const auto body = json::parse(r.response->body, nullptr, false);
        const auto state = read_function_state(body.is_discarded() ? json::object() : body);
        if (state.state == readiness::ready) return exit_ok;
        if (state.state == readiness::failed) {
            print_error(fmt::format("function {} failed: {}", name, state.reason.empty() ? "(no reason given)" : state.reason));
            return exit_usage;
        }
        if (std::chrono::steady_clock::now() > deadline) {
            print_error(fmt::format("{} did not become Active within {} s", name, ready_timeout.count()));
            return exit_usage;
        }
        std::this_thread::sleep_for(interval);
        interval = std::min<std::chrono::milliseconds>(interval * 2, 500ms);
    }
}

int run_deploy(const endpoint& ep, const deploy_options& o) {
    auto env = parse_env(o.env);
    if (!env) {
        print_error(env.error().message);
        return exit_usage;
    }
    auto zip = zip_folder(o.dir);
    if (!zip) {
        print_error(zip.error().message);
        return exit_usage;
    }
    auto existing = call(ep, get_function_request(o.name), {}, true);
    if (!existing.response) return existing.exit_status;
    const bool exists = !existing.api;
    if (existing.api && existing.api->type != not_found_type) {
        print_error(fmt::format("{}: {}", existing.api->type, existing.api->message));
        return exit_usage;
    }

    call_result done;
    if (!exists) {
        const auto req = create_function_request(o, *env, zip->bytes);
        done = call(ep, req, upload_options(req.body.size()));
        if (!done.response) return done.exit_status;
    } else {
        if (int rc = wait_ready(ep, o.name); rc != exit_ok) return rc;
        const auto req = update_code_request(o.name, zip->bytes);
        auto code = call(ep, req, upload_options(req.body.size()));
        if (!code.response) return code.exit_status;
        if (int rc = wait_ready(ep, o.name); rc != exit_ok) return rc;
        done = call(ep, update_configuration_request(o, *env));
        if (!done.response) return done.exit_status;
    }
    if (int rc = wait_ready(ep, o.name); rc != exit_ok) return rc;

    const auto f = summarize_function(json::parse(done.response->body, nullptr, false));
    fmt::print("{} {} ({}, {}, {} file{}, {} zipped, sha256 {})\n", exists ? "updated" : "created", o.name, f.runtime,
               f.handler, zip->files, zip->files == 1 ? "" : "s", human_bytes(zip->bytes.size()), f.code_sha256);
    std::fflush(stdout);
    return exit_ok;
}

int run_publish_layer(const endpoint& ep, const publish_layer_options& o) {
    auto zip = zip_folder(o.dir);
    if (!zip) {
        print_error(zip.error().message);
        return exit_usage;
    }
    const auto req = publish_layer_request(o, zip->bytes);
    auto done = call(ep, req, upload_options(req.body.size()));
    if (!done.response) return done.exit_status;
    const auto body = json::parse(done.response->body, nullptr, false);
    const std::string arn = body.is_object() ? body.value("LayerVersionArn", "") : "";
    fmt::print("{}\n", arn);  // stdout: only the ARN, for `--layer "$(lambent publish-layer …)"`
    fmt::print(stderr, "published {} ({} file{}, {} zipped)\n", arn, zip->files, zip->files == 1 ? "" : "s",
               human_bytes(zip->bytes.size()));
    std::fflush(stdout);
    return exit_ok;
}

int run_invoke(const endpoint& ep, const invoke_options& o) {
    std::string payload;
    if (o.payload) {
        auto p = read_input(*o.payload, "--payload");
        if (!p) {
            print_error(p.error().message);
            return exit_usage;
        }
        payload = std::move(*p);
    }
    send_options opts;
    opts.response_timeout = invoke_response_timeout;
    auto r = call(ep, invoke_request(o, std::move(payload)), opts);
    if (!r.response) return r.exit_status;
    const auto& res = *r.response;
    if (res.status == 202) {
        fmt::print(stderr, "accepted (request id {})\n", res.header("x-amzn-RequestId"));
        return exit_ok;
    }
    if (o.log) {
        if (auto tail = codec::base64_decode(res.header("X-Amz-Log-Result"))) {
            write_result(stderr, *tail);
        }
    }
    write_result(stdout, res.body);
    if (const auto fe = res.header("X-Amz-Function-Error"); !fe.empty()) {
        fmt::print(stderr, "error: {}", describe_function_error(fe, res.body));
        return exit_function_error;
    }
    return exit_ok;
}

int run_logs(const endpoint& ep, const logs_options& o) {
    auto start = since_epoch_ms(o.since, now_ms());
    if (!start) {
        print_error(start.error().message);
        return exit_usage;
    }
    // The position: events at `cursor` already printed are remembered by id (as `aws logs tail` does).
    std::int64_t cursor = start->value_or(0);
    std::set<std::string> printed_at_cursor;
    std::optional<std::string> token;
    std::optional<std::int64_t> page_start = *start;
    bool waiting_noted = false;
    while (true) {
        auto r = call(ep, filter_log_events_request({o.name, page_start, o.filter, token}), {}, true);
        if (!r.response) return r.exit_status;
        if (r.api) {
            if (o.follow && r.api->type == not_found_type) {
                if (!waiting_noted) fmt::print(stderr, "waiting for log group /aws/lambda/{} …\n", o.name);
                waiting_noted = true;
                std::this_thread::sleep_for(follow_poll_interval);
                continue;
            }
            print_error(fmt::format("{}: {}", r.api->type, r.api->message));
            if (r.api->type == not_found_type) {
                fmt::print(stderr, "(a function's log group exists once it has logged something; try --follow)\n");
            }
            return exit_usage;
        }
        auto page = decode_filter_page(r.response->body);
        if (!page) {
            print_error(page.error().message);
            return exit_usage;
        }
        for (const auto& e : page->events) {
            if (e.timestamp < cursor || (e.timestamp == cursor && printed_at_cursor.count(e.event_id) != 0)) continue;
            if (e.timestamp > cursor) {
                cursor = e.timestamp;
                printed_at_cursor.clear();
            }
            printed_at_cursor.insert(e.event_id);
            fmt::print("{}\n", format_log_event(e.timestamp, e.message));
        }
        std::fflush(stdout);
        if (page->next_token) {
            token = page->next_token;
            continue;
        }
        if (!o.follow) return exit_ok;
        token.reset();
        page_start = cursor > 0 ? std::optional<std::int64_t>{cursor} : std::nullopt;
        std::this_thread::sleep_for(follow_poll_interval);
    }
}

int run_ls(const endpoint& ep, const ls_options& o) {
    json functions = json::array();
    std::optional<std::string> marker;
    do {
        auto r = call(ep, list_functions_request(marker));
        if (!r.response) return r.exit_status;
        auto page = decode_function_page(r.response->body);
        if (!page) {
            print_error(page.error().message);
            return exit_usage;
        }
        for (auto& f : page->functions) functions.push_back(std::move(f));
        marker = page->next_marker;
    } while (marker);

    if (o.json) {
        fmt::print("{}\n", functions.dump(2));
        return exit_ok;
    }
    if (o.quiet) {
        for (const auto& f : functions) fmt::print("{}\n", summarize_function(f).name);
        return exit_ok;
    }
    std::vector<std::array<std::string, 6>> rows{{"NAME", "RUNTIME", "HANDLER", "MEMORY", "TIMEOUT", "LAST MODIFIED"}};
    for (const auto& cfg : functions) {
        const auto f = summarize_function(cfg);
        rows.push_back({f.name, f.runtime.empty() ? "-" : f.runtime, f.handler.empty() ? "-" : f.handler,
                        fmt::format("{} MB", f.memory_mb), fmt::format("{} s", f.timeout_s), f.last_modified});
    }
    std::array<std::size_t, 6> width{};
    for (const auto& row : rows) {
        for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
    }
    for (const auto& row : rows) {
        std::string line;
        for (std::size_t i = 0; i < row.size(); ++i) {
            line += i + 1 < row.size() ? fmt::format("{:<{}}  ", row[i], width[i]) : row[i];
        }
        fmt::print("{}\n", line);
    }
    if (functions.empty()) fmt::print(stderr, "no functions\n");
    return exit_ok;
}

int run_rm(const endpoint& ep, const rm_options& o) {
    int status = exit_ok;
    for (const auto& name : o.names) {
        auto r = call(ep, delete_function_request(name));
        if (!r.response) {
            if (r.exit_status == exit_unreachable) return r.exit_status;
            status = r.exit_status;
            continue;
        }
        fmt::print("deleted {}\n", name);
    }
    return status;
}

int run_event(const client_commands& c) {
    const auto ctx = random_event_context();
    result<json> ev = make_error(errc::validation, "choose an event type: s3-put, apigw-v2 or schedule");
    if (c.s3_put_cmd->parsed()) {
        ev = s3_put_event(c.s3_put, ctx);
    } else if (c.apigw_v2_cmd->parsed()) {
        auto opts = c.apigw_v2;
        if (opts.body) {
            auto body = read_input(*opts.body, "--body");
            if (!body) {
                print_error(body.error().message);
                return exit_usage;
            }
            opts.body = std::move(*body);
        }
        ev = apigw_v2_event(opts, ctx);
    } else if (c.schedule_cmd->parsed()) {
        ev = schedule_event(c.schedule, ctx);
    }
    if (!ev) {
        print_error(ev.error().message);
        return exit_usage;
    }
    fmt::print("{}\n", ev->dump(2));
    return exit_ok;
}

}  // namespace

int run_fault_command(const endpoint& ep, fault_action action, const fault_options& o) {
    http_request req;
    if (action == fault_action::set) {
        auto r = fault_set_request(o);
        if (!r) {
            print_error(r.error().message);
            return exit_usage;
        }
        req = std::move(*r);
    } else if (action == fault_action::clear) {
        req = fault_clear_request(o);
    } else {
        req = fault_list_request();
    }
    auto res = send(ep, req);
    if (!res) {
        print_error(res.error().message);
        return exit_unreachable;
    }
    if (auto e = decode_api_error(*res)) {
        fmt::print(stderr, "error: {}: {}\n", e->type, e->message);
        return exit_usage;
    }
    const auto body = json::parse(res->body, nullptr, false);
    if (action == fault_action::ls) {
        if (o.json) {
            fmt::print("{}\n", body.is_discarded() ? res->body : body.dump(2));
        } else {
            fmt::print("{}", format_fault_list(body.is_discarded() ? json::object() : body));
        }
    } else if (action == fault_action::set) {
        fmt::print("fault set: {} {}{}\n", o.function, o.spec, o.qualifier ? " (qualifier " + *o.qualifier + ")" : "");
    } else {
        fmt::print("faults cleared{}\n", o.function.empty() ? "" : ": " + o.function);
    }
    std::fflush(stdout);
    return exit_ok;
}

int run_client_command(const client_commands& c) {
    if (c.event_cmd->parsed()) return run_event(c);
    auto ep = parse_endpoint(c.endpoint_url());
    if (!ep) {
        print_error(ep.error().message);
        return exit_usage;
    }
    if (c.deploy_cmd->parsed()) return run_deploy(*ep, c.deploy);
    if (c.publish_layer_cmd->parsed()) return run_publish_layer(*ep, c.publish_layer);
    if (c.invoke_cmd->parsed()) return run_invoke(*ep, c.invoke);
    if (c.logs_cmd->parsed()) return run_logs(*ep, c.logs);
    if (c.ls_cmd->parsed()) return run_ls(*ep, c.ls);
    if (c.rm_cmd->parsed()) return run_rm(*ep, c.rm);
    if (c.fault_cmd->parsed()) {
        const auto action = c.fault_set_cmd->parsed()     ? fault_action::set
                            : c.fault_clear_cmd->parsed() ? fault_action::clear
                                                          : fault_action::ls;
        return run_fault_command(*ep, action, c.fault);
    }
    print_error("no command given");
    return exit_usage;
}

}  // namespace lambent::cli
