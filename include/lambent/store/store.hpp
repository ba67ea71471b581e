#pragma once
/// Durable metadata (SQLite in WAL mode) and content-addressed code blobs under the data dir:
///   lambent.db            functions (one row per function, the record as JSON)
///   code/<sha256>.zip     immutable ZIPs, written to a temp file, fsynced, renamed, then referenced
///   unpacked/<sha256>/    the extracted tree of each ZIP (rebuilt on demand)
///   opt/<id>/             a function's layers merged in order (what it sees at /opt); a cache, rebuilt on demand
/// Thread-safe: every method may be called from the blocking-work pool; SQLite access is serialised.

#include "lambent/common/error.hpp"
#include "lambent/model/alias.hpp"
#include "lambent/model/function.hpp"
#include "lambent/model/layer.hpp"
#include "lambent/store/zip_intake.hpp"

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

struct sqlite3;

namespace lambent::store {

struct code_blob {
    std::string sha256_hex;
    std::int64_t size = 0;
    std::uint64_t unzipped_bytes = 0;
};

/// A per-function setting row (reserved concurrency, event-invoke configs, counters…), value as JSON text.
struct setting_row {
    std::string function;
    std::string kind;
    std::string qualifier;
    std::string value;
};

/// One accepted asynchronous (Event) invocation, durable until it has run (or was given up).
struct async_event {
    std::string id;          // the request id returned with the 202
    std::string function;
    std::string qualifier;   // "" = $LATEST
    std::string payload;
    int attempts = 0;        // attempts started so far (persisted before each attempt)
    std::int64_t enqueued_ms = 0;
    std::int64_t next_attempt_ms = 0;
};

/// Everything the API's catalogue is built from at start.
struct catalog_rows {
    std::vector<model::function_record> functions;  // $LATEST
    std::vector<model::function_record> versions;   // published, version "N"
    std::vector<std::pair<std::string, model::alias_record>> aliases;  // (function, alias)
    std::vector<setting_row> settings;
    std::vector<model::layer_version_record> layers;     // every layer version not deleted
    std::map<std::string, int> layer_last_versions;      // layer name -> highest version ever published
};

class store {
public:
    /// Opens (creating if needed) the data dir and its database. Errors name the path and the cause.
    [[nodiscard]] static result<std::unique_ptr<store>> open(const std::filesystem::path& data_dir);
    ~store();
    store(const store&) = delete;
    store& operator=(const store&) = delete;

    const std::filesystem::path& data_dir() const { return dir_; }

    std::vector<model::function_record> load_functions();
    catalog_rows load_catalog();

    /// Published versions are immutable: insert once, delete once.
    [[nodiscard]] result<void> insert_version(const model::function_record& v);
    [[nodiscard]] result<void> delete_version(const std::string& function, const std::string& version);
    /// Creates (expected_revision empty; resource_conflict if it exists) or replaces (compare-and-swap) an alias.
    [[nodiscard]] result<void> put_alias(const std::string& function, const model::alias_record& a,
                                         const std::string& expected_revision);
    [[nodiscard]] result<void> delete_alias(const std::string& function, const std::string& alias);
    [[nodiscard]] result<void> put_setting(const setting_row& row);

    /// The asynchronous queue: insert (durable before the 202), update attempts/next time, remove, load.
    [[nodiscard]] result<void> put_event(const async_event& e);
    [[nodiscard]] result<void> remove_event(const std::string& id);
    std::vector<async_event> load_events();
    [[nodiscard]] result<void> delete_setting(const std::string& function, const std::string& kind,
                                              const std::string& qualifier);

    /// Layer versions: insert (also raising the layer's highest version number, which deletes never lower)
    /// and delete (a missing version is not an error).
    [[nodiscard]] result<void> insert_layer_version(const model::layer_version_record& l);
    [[nodiscard]] result<void> delete_layer_version(const std::string& name, int version);

    /// Validates and unpacks the ZIP, then stores it durably under its SHA-256. Idempotent per content.
    [[nodiscard]] result<code_blob> put_code(std::string_view zip, const unzip_limits& limits = {});

    /// Inserts a new function; resource_conflict if the name exists.
    [[nodiscard]] result<void> insert_function(const model::function_record& f);
    /// Replaces a function if its stored RevisionId is still `expected_revision` (compare-and-swap);
    /// precondition_failed otherwise, resource_not_found if it is gone.
    [[nodiscard]] result<void> replace_function(const model::function_record& f, const std::string& expected_revision);
    /// Deletes the function with its versions, aliases and settings, in one transaction.
    [[nodiscard]] result<void> delete_function(const std::string& name);

    std::filesystem::path code_path(const std::string& sha_hex) const;
    std::filesystem::path unpacked_path(const std::string& sha_hex) const;
    /// Makes sure the unpacked tree of a stored blob exists (after a crash or manual cleanup).
    [[nodiscard]] result<std::filesystem::path> ensure_unpacked(const std::string& sha_hex);

    /// Bytes of the unpacked tree of a stored blob (unpacking it first if needed).
    [[nodiscard]] result<std::uint64_t> unpacked_bytes(const std::string& sha_hex);
    /// The layers (content addresses, in order) merged into one tree, as a function sees them at /opt: each
    /// layer's files over the previous ones'. Built once per distinct list (hard links into unpacked/).
    [[nodiscard]] result<std::filesystem::path> ensure_opt(const std::vector<std::string>& layer_shas);
    /// The name of the merged tree of a list of layers (what collect_garbage() keeps when referenced).
    static std::string opt_id(const std::vector<std::string>& layer_shas);

    /// Removes blobs, trees, merged layer trees and temp files nothing references (`referenced` holds content
    /// addresses and opt_id()s). Called at start-up.
    void collect_garbage(const std::set<std::string>& referenced);

private:
    store(std::filesystem::path dir, sqlite3* db);
    result<void> exec(const char* sql);
    result<code_blob> store_code(std::string_view zip, const unzip_limits& limits);

    std::filesystem::path dir_;
    sqlite3* db_;
    std::mutex mutex_;
};

}  // namespace lambent::store
