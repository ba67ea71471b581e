#include "lambent/store/store.hpp"

#include "lambent/common/codec.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstring>

namespace lambent::store {
namespace fs = std::filesystem;

namespace {

struct stmt {
    sqlite3_stmt* s = nullptr;
    stmt(sqlite3* db, const char* sql) { sqlite3_prepare_v2(db, sql, -1, &s, nullptr); }
    ~stmt() { sqlite3_finalize(s); }
    stmt(const stmt&) = delete;
    stmt& operator=(const stmt&) = delete;
    void bind(int i, const std::string& v) { sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT); }
};

bool out_of_space(int err) { return err == ENOSPC || err == EDQUOT; }

error db_error(sqlite3* db, std::string_view what) {
    const int code = sqlite3_extended_errcode(db) & 0xff;
    if (code == SQLITE_FULL || (code == SQLITE_IOERR && out_of_space(sqlite3_system_errno(db)))) {
        const fs::path dir = fs::path(sqlite3_db_filename(db, "main")).parent_path();
        spdlog::error("store: {}: no space left in {}", what, dir.string());
        return make_error(errc::service, fmt::format("No space left on the device of the data dir {}: the change could "
                                                     "not be saved ({}). Free space there, then try again.",
                                                     dir.string(), what));
    }
    return make_error(errc::service, fmt::format("store: {}: {}", what, sqlite3_errmsg(db)));
}

/// A write the file system refused: out of space is code_storage_exceeded (put_code names the data dir).
error file_error(std::string_view what, const fs::path& path, int err) {
    if (out_of_space(err)) return make_error(errc::code_storage_exceeded, "no space left on device");
    return make_error(errc::service, fmt::format("cannot {} {}: {}", what, path.string(), std::strerror(err)));
}

/// Writes `bytes` to `path` atomically and durably: temp file, fsync, rename, fsync of the directory.
result<void> write_file_durably(const fs::path& path, std::string_view bytes) {
    const fs::path tmp = path.string() + ".tmp-" + codec::random_hex(6);
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        return file_error("create", tmp, errno);
    }
    const char* p = bytes.data();
    std::size_t left = bytes.size();
    while (left > 0) {
        const ssize_t n = ::write(fd, p, left);
        if (n < 0) {
            const int err = errno;
            ::close(fd);
            ::unlink(tmp.c_str());
            return file_error("write", tmp, err);
        }
        p += n;
        left -= static_cast<std::size_t>(n);
    }
    // close() also runs when fsync() fails: the descriptor must not leak
    const int synced = ::fsync(fd) == 0 ? 0 : errno;
    const int closed = ::close(fd) == 0 ? 0 : errno;
    if (synced != 0 || closed != 0) {
        ::unlink(tmp.c_str());
        return file_error("sync", tmp, synced != 0 ? synced : closed);
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        const int err = errno;
        ::unlink(tmp.c_str());
        return file_error("rename", tmp, err);
    }
    const int dfd = ::open(path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
    return {};
}

result<std::string> read_file(const fs::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return make_error(errc::service, fmt::format("cannot open {}", path.string()));
    }
    std::string out;
    char buf[1 << 16];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return out;
}

/// Bytes of the regular files under `root` (symlinks not followed).
std::uint64_t tree_bytes(const fs::path& root) {
    std::uint64_t total = 0;
    std::error_code ec;
    for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
        std::error_code e2;
        if (it->is_regular_file(e2) && !it->is_symlink(e2)) total += it->file_size(e2);
    }
    return total;
}

/// Lays the tree `src` over `dest`: directories merged, files and symlinks of `src` replacing whatever `dest`
/// had at the same path. Files are hard links (the trees are immutable), copies where linking fails.
result<void> overlay_tree(const fs::path& src, const fs::path& dest) {
    std::error_code ec;
    for (fs::recursive_directory_iterator it(src, ec), end; !ec && it != end; it.increment(ec)) {
        const fs::path target = dest / it->path().lexically_relative(src);  // not relative(): it follows symlinks
        std::error_code e2;
        const auto st = it->symlink_status(e2);
        const auto existing = fs::symlink_status(target, e2);
        if (fs::is_directory(st)) {
            if (fs::exists(existing) && !fs::is_directory(existing)) fs::remove(target, e2);
            if (!fs::is_directory(existing)) {
                fs::create_directory(target, e2);
                fs::permissions(target, fs::perms(0755), e2);
            }
            continue;
        }
        if (fs::exists(existing) || fs::is_symlink(existing)) fs::remove_all(target, e2);
        e2.clear();
        if (fs::is_symlink(st)) {
            fs::copy_symlink(it->path(), target, e2);
        } else {
            fs::create_hard_link(it->path(), target, e2);
            if (e2) {
                e2.clear();
                fs::copy_file(it->path(), target, e2);
            }
        }
        if (e2) {
            return make_error(errc::service, fmt::format("cannot merge layer file {}: {}", target.string(), e2.message()));
        }
    }
    if (ec) return make_error(errc::service, fmt::format("cannot read layer tree {}: {}", src.string(), ec.message()));
    return {};
}

}  // namespace

store::store(fs::path dir, sqlite3* db) : dir_(std::move(dir)), db_(db) {}

store::~store() { sqlite3_close(db_); }

result<std::unique_ptr<store>> store::open(const fs::path& data_dir) {
    std::error_code ec;
    for (const auto& sub : {fs::path{}, fs::path{"code"}, fs::path{"unpacked"}, fs::path{"logs"},
                              fs::path{"opt"}}) {
        fs::create_directories(data_dir / sub, ec);
        if (ec) {
            return make_error(errc::service, fmt::format("cannot create data dir {}: {}", (data_dir / sub).string(), ec.message()));
        }
    }
    // A crash during an earlier start can leave the probe (or its temp file) behind.
    for (fs::directory_iterator it(data_dir, ec), end; !ec && it != end; it.increment(ec)) {
        if (it->path().filename().string().rfind(".write-probe", 0) == 0) fs::remove(it->path(), ec);
    }
    ec.clear();
    const fs::path probe = data_dir / ".write-probe";
    if (auto w = write_file_durably(probe, "ok"); !w) {
        return make_error(errc::service, fmt::format("data dir {} is not writable: {}", data_dir.string(), w.error().message));
    }
    fs::remove(probe, ec);

    sqlite3* db = nullptr;
    const fs::path db_path = data_dir / "lambent.db";
    if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        nullptr) != SQLITE_OK) {
        auto e = make_error(errc::service, fmt::format("cannot open {}: {}", db_path.string(), sqlite3_errmsg(db)));
        sqlite3_close(db);
        return e;
    }
    std::unique_ptr<store> s(new store(fs::absolute(data_dir), db));
    sqlite3_busy_timeout(db, 5000);
    // WAL with synchronous=FULL: a change acknowledged to a client survives a crash or power loss.
    for (const char* sql : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON",
                            "CREATE TABLE IF NOT EXISTS functions ("
                            "  name TEXT PRIMARY KEY,"
                            "  revision_id TEXT NOT NULL,"
                            "  record TEXT NOT NULL)",
                            "CREATE TABLE IF NOT EXISTS versions ("
                            "  name TEXT NOT NULL, version INTEGER NOT NULL, record TEXT NOT NULL,"
                            "  PRIMARY KEY (name, version))",
                            "CREATE TABLE IF NOT EXISTS aliases ("
                            "  name TEXT NOT NULL, alias TEXT NOT NULL, revision_id TEXT NOT NULL, record TEXT NOT NULL,"
                            "  PRIMARY KEY (name, alias))",
                            "CREATE TABLE IF NOT EXISTS async_events ("
                            "  id TEXT PRIMARY KEY, function TEXT NOT NULL, qualifier TEXT NOT NULL, payload BLOB NOT NULL,"
                            "  attempts INTEGER NOT NULL, enqueued_ms INTEGER NOT NULL, next_attempt_ms INTEGER NOT NULL)",
                            "CREATE TABLE IF NOT EXISTS layer_versions ("
                            "  name TEXT NOT NULL, version INTEGER NOT NULL, record TEXT NOT NULL,"
                            "  PRIMARY KEY (name, version))",
                            "CREATE TABLE IF NOT EXISTS layer_names ("
                            "  name TEXT PRIMARY KEY, last_version INTEGER NOT NULL)",
                            "CREATE TABLE IF NOT EXISTS settings ("
                            "  name TEXT NOT NULL, kind TEXT NOT NULL, qualifier TEXT NOT NULL, value TEXT NOT NULL,"
                            "  PRIMARY KEY (name, kind, qualifier))"}) {
        if (auto r = s->exec(sql); !r) {
            return r.error();
        }
    }
    return s;
}

result<void> store::exec(const char* sql) {
    char* msg = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
        auto e = db_error(db_, sql);
        sqlite3_free(msg);
        return e;
    }
    return {};
}

std::vector<model::function_record> store::load_functions() {
    std::lock_guard lock(mutex_);
    std::vector<model::function_record> out;
    stmt q(db_, "SELECT record FROM functions ORDER BY name");
    while (sqlite3_step(q.s) == SQLITE_ROW) {
        const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(q.s, 0));
        auto j = nlohmann::json::parse(text, nullptr, false);
        if (j.is_discarded()) {
            spdlog::error("store: skipping an unreadable function record");
            continue;
        }
        out.push_back(model::from_storage(j));
    }
    return out;
}

fs::path store::code_path(const std::string& sha_hex) const { return dir_ / "code" / (sha_hex + ".zip"); }
fs::path store::unpacked_path(const std::string& sha_hex) const { return dir_ / "unpacked" / sha_hex; }

result<code_blob> store::put_code(std::string_view zip, const unzip_limits& limits) {
    auto stored = store_code(zip, limits);
    if (!stored && stored.error().code == errc::code_storage_exceeded) {
        spdlog::error("store: no space left in {} for a {}-byte ZIP", dir_.string(), zip.size());
        return make_error(errc::code_storage_exceeded,
                          fmt::format("Code storage limit exceeded: no space left on the device of the data dir {} "
                                      "for the function's code ({} bytes zipped). Free space there, then try again.",
                                      dir_.string(), zip.size()));
    }
    return stored;
}

result<code_blob> store::store_code(std::string_view zip, const unzip_limits& limits) {
    code_blob blob;
    blob.sha256_hex = codec::hex(codec::sha256(zip));
    blob.size = static_cast<std::int64_t>(zip.size());
    // Unpack first: a ZIP that fails the checks leaves nothing behind.
    const fs::path tree = unpacked_path(blob.sha256_hex);
    std::error_code ec;
    if (!fs::exists(tree, ec)) {
        const fs::path tmp = dir_ / "unpacked" / (blob.sha256_hex + ".tmp-" + codec::random_hex(6));
        auto summary = extract_zip(zip, tmp, limits);
        if (!summary) {
            return summary.error();
        }
        blob.unzipped_bytes = summary->unzipped_bytes;
        fs::rename(tmp, tree, ec);
        if (ec) {
            fs::remove_all(tmp, ec);  // someone else unpacked the same content first
        }
    } else {
        blob.unzipped_bytes = tree_bytes(tree);
    }
    const fs::path blob_path = code_path(blob.sha256_hex);
    if (!fs::exists(blob_path, ec)) {
        if (auto w = write_file_durably(blob_path, zip); !w) {
            // The tree is only used through a stored blob: without the blob it is unreferenced (start-up GC
            // would remove it); remove it now so that a full disk gets its space back at once.
            fs::remove_all(tree, ec);
            return w.error();
        }
    }
    return blob;
}

result<fs::path> store::ensure_unpacked(const std::string& sha_hex) {
    const fs::path tree = unpacked_path(sha_hex);
    std::error_code ec;
    if (fs::exists(tree, ec)) {
        return tree;
    }
    auto zip = read_file(code_path(sha_hex));
    if (!zip) {
        return make_error(errc::invalid_zip_file, "The function's stored code cannot be read.");
    }
    auto blob = put_code(*zip);
    if (!blob) {
        return make_error(errc::invalid_zip_file, "The function's stored code cannot be extracted.");
    }
    return tree;
}

result<std::uint64_t> store::unpacked_bytes(const std::string& sha_hex) {
    auto tree = ensure_unpacked(sha_hex);
    if (!tree) return tree.error();
    return tree_bytes(*tree);
}

std::string store::opt_id(const std::vector<std::string>& layer_shas) {
    std::string joined;
    for (const auto& sha : layer_shas) joined += sha + "\n";
    return codec::hex(codec::sha256(joined));
}

result<fs::path> store::ensure_opt(const std::vector<std::string>& layer_shas) {
    const fs::path merged = dir_ / "opt" / opt_id(layer_shas);
    std::error_code ec;
    if (fs::exists(merged, ec)) return merged;
    const fs::path tmp = merged.string() + ".tmp-" + codec::random_hex(6);
    fs::create_directories(tmp, ec);
    if (ec) return make_error(errc::service, fmt::format("cannot create {}: {}", tmp.string(), ec.message()));
    fs::permissions(tmp, fs::perms(0755), ec);
    for (const auto& sha : layer_shas) {
        auto tree = ensure_unpacked(sha);
        auto merged_ok = tree ? overlay_tree(*tree, tmp) : result<void>(tree.error());
        if (!merged_ok) {
            fs::remove_all(tmp, ec);
            return merged_ok.error();
        }
    }
    fs::rename(tmp, merged, ec);
    if (ec) fs::remove_all(tmp, ec);  // built concurrently by someone else: theirs is identical
    return merged;
}

result<void> store::insert_layer_version(const model::layer_version_record& l) {
    std::lock_guard lock(mutex_);
    if (auto r = exec("BEGIN IMMEDIATE"); !r) return r;
    auto fail = [this](std::string_view what) {
        auto e = db_error(db_, what);
        (void)exec("ROLLBACK");
        return e;
    };
    {
        stmt q(db_, "INSERT INTO layer_versions (name, version, record) VALUES (?1, ?2, ?3)");
        q.bind(1, l.name);
        sqlite3_bind_int64(q.s, 2, l.version);
        q.bind(3, model::to_storage(l).dump());
        if (sqlite3_step(q.s) != SQLITE_DONE) return fail("insert layer version");
    }
    {
        stmt q(db_, "INSERT INTO layer_names (name, last_version) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET "
                    "last_version = max(last_version, excluded.last_version)");
        q.bind(1, l.name);
        sqlite3_bind_int64(q.s, 2, l.version);
        if (sqlite3_step(q.s) != SQLITE_DONE) return fail("record layer version number");
    }
    return exec("COMMIT");
}

result<void> store::delete_layer_version(const std::string& name, int version) {
    std::lock_guard lock(mutex_);
    stmt q(db_, "DELETE FROM layer_versions WHERE name = ?1 AND version = ?2");
    q.bind(1, name);
    sqlite3_bind_int64(q.s, 2, version);
    if (sqlite3_step(q.s) != SQLITE_DONE) return db_error(db_, "delete layer version");
    return {};
}

result<void> store::insert_function(const model::function_record& f) {
    std::lock_guard lock(mutex_);
    stmt q(db_, "INSERT INTO functions (name, revision_id, record) VALUES (?1, ?2, ?3)");
    q.bind(1, f.name);
    q.bind(2, f.revision_id);
    q.bind(3, model::to_storage(f).dump());
    const int rc = sqlite3_step(q.s);
    if (rc == SQLITE_CONSTRAINT) {
        return make_error(errc::resource_conflict, "Function already exist: " + f.name);
    }
    if (rc != SQLITE_DONE) {
        return db_error(db_, "insert function");
    }
    return {};
}

result<void> store::replace_function(const model::function_record& f, const std::string& expected_revision) {
    std::lock_guard lock(mutex_);
    stmt q(db_, "UPDATE functions SET revision_id = ?2, record = ?3 WHERE name = ?1 AND revision_id = ?4");
    q.bind(1, f.name);
    q.bind(2, f.revision_id);
    q.bind(3, model::to_storage(f).dump());
    q.bind(4, expected_revision);
    if (sqlite3_step(q.s) != SQLITE_DONE) {
        return db_error(db_, "update function");
    }
    if (sqlite3_changes(db_) == 1) {
        return {};
    }
    stmt exists(db_, "SELECT 1 FROM functions WHERE name = ?1");
    exists.bind(1, f.name);
    if (sqlite3_step(exists.s) != SQLITE_ROW) {
        return make_error(errc::resource_not_found, "Function not found");
    }
    return make_error(errc::precondition_failed,
                      "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias "
                      "API to retrieve the latest Revision Id");
}

result<void> store::delete_function(const std::string& name) {
    std::lock_guard lock(mutex_);
    if (auto r = exec("BEGIN IMMEDIATE"); !r) return r;
    for (const char* sql : {"DELETE FROM functions WHERE name = ?1", "DELETE FROM versions WHERE name = ?1",
                            "DELETE FROM aliases WHERE name = ?1", "DELETE FROM settings WHERE name = ?1"}) {
        stmt q(db_, sql);
        q.bind(1, name);
        if (sqlite3_step(q.s) != SQLITE_DONE) {
            auto e = db_error(db_, "delete function");
            (void)exec("ROLLBACK");
            return e;
        }
    }
    if (auto r = exec("COMMIT"); !r) {
        (void)exec("ROLLBACK");
        return r;
    }
    return {};
}

catalog_rows store::load_catalog() {
    catalog_rows rows;
    rows.functions = load_functions();
    std::lock_guard lock(mutex_);
    auto parse = [](sqlite3_stmt* s, int col) {
        return nlohmann::json::parse(reinterpret_cast<const char*>(sqlite3_column_text(s, col)), nullptr, false);
    };
    {
        stmt q(db_, "SELECT record FROM versions ORDER BY name, version");
        while (sqlite3_step(q.s) == SQLITE_ROW) {
            auto j = parse(q.s, 0);
            if (!j.is_discarded()) rows.versions.push_back(model::from_storage(j));
        }
    }
    {
        stmt q(db_, "SELECT name, record FROM aliases ORDER BY name, alias");
        while (sqlite3_step(q.s) == SQLITE_ROW) {
            auto j = parse(q.s, 1);
            if (!j.is_discarded()) {
                rows.aliases.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(q.s, 0)),
                                          model::alias_from_storage(j));
            }
        }
    }
    {
        stmt q(db_, "SELECT record FROM layer_versions ORDER BY name, version");
        while (sqlite3_step(q.s) == SQLITE_ROW) {
            auto j = parse(q.s, 0);
            if (!j.is_discarded()) rows.layers.push_back(model::layer_from_storage(j));
        }
    }
    {
        stmt q(db_, "SELECT name, last_version FROM layer_names");
        while (sqlite3_step(q.s) == SQLITE_ROW) {
            rows.layer_last_versions[reinterpret_cast<const char*>(sqlite3_column_text(q.s, 0))] = sqlite3_column_int(q.s, 1);
        }
    }
    {
        stmt q(db_, "SELECT name, kind, qualifier, value FROM settings");
        while (sqlite3_step(q.s) == SQLITE_ROW) {
            auto col = [&q](int i) { return std::string(reinterpret_cast<const char*>(sqlite3_column_text(q.s, i))); };
            rows.settings.push_back({col(0), col(1), col(2), col(3)});
        }
    }
    return rows;
}

result<void> store::insert_version(const model::function_record& v) {
    std::lock_guard lock(mutex_);
    stmt q(db_, "INSERT INTO versions (name, version, record) VALUES (?1, ?2, ?3)");
    q.bind(1, v.name);
    sqlite3_bind_int64(q.s, 2, std::stoll(v.version));
    q.bind(3, model::to_storage(v).dump());
    const int rc = sqlite3_step(q.s);
    if (rc == SQLITE_CONSTRAINT) return make_error(errc::resource_conflict, "Version already exists");
    if (rc != SQLITE_DONE) return db_error(db_, "insert version");
    return {};
}

result<void> store::delete_version(const std::string& function, const std::string& version) {
    std::lock_guard lock(mutex_);
    stmt q(db_, "DELETE FROM versions WHERE name = ?1 AND version = ?2");
    q.bind(1, function);
    sqlite3_bind_int64(q.s, 2, std::stoll(version));
    if (sqlite3_step(q.s) != SQLITE_DONE) return db_error(db_, "delete version");
    return {};
}

result<void> store::put_alias(const std::string& function, const model::alias_record& a,
                              const std::string& expected_revision) {
    std::lock_guard lock(mutex_);
    const std::string text = model::to_storage(a).dump();
    if (expected_revision.empty()) {
        stmt q(db_, "INSERT INTO aliases (name, alias, revision_id, record) VALUES (?1, ?2, ?3, ?4)");
        q.bind(1, function);
        q.bind(2, a.name);
        q.bind(3, a.revision_id);
        q.bind(4, text);
        const int rc = sqlite3_step(q.s);
        if (rc == SQLITE_CONSTRAINT) return make_error(errc::resource_conflict, "Alias already exists");
        if (rc != SQLITE_DONE) return db_error(db_, "insert alias");
        return {};
    }
    stmt q(db_, "UPDATE aliases SET revision_id = ?3, record = ?4 WHERE name = ?1 AND alias = ?2 AND revision_id = ?5");
    q.bind(1, function);
    q.bind(2, a.name);
    q.bind(3, a.revision_id);
    q.bind(4, text);
    q.bind(5, expected_revision);
    if (sqlite3_step(q.s) != SQLITE_DONE) return db_error(db_, "update alias");
    if (sqlite3_changes(db_) != 1) {
        return make_error(errc::precondition_failed,
                          "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias "
                          "API to retrieve the latest Revision Id");
    }
    return {};
}

result<void> store::delete_alias(const std::string& function, const std::string& alias) {
    std::lock_guard lock(mutex_);
    stmt q(db_, "DELETE FROM aliases WHERE name = ?1 AND alias = ?2");
    q.bind(1, function);
    q.bind(2, alias);
    if (sqlite3_step(q.s) != SQLITE_DONE) return db_error(db_, "delete alias");
    return {};
}

result<void> store::put_setting(const setting_row& row) {
    std::lock_guard lock(mutex_);
    stmt q(db_, "INSERT INTO settings (name, kind, qualifier, value) VALUES (?1, ?2, ?3, ?4) "
                "ON CONFLICT (name, kind, qualifier) DO UPDATE SET value = excluded.value");
    q.bind(1, row.function);
    q.bind(2, row.kind);
    q.bind(3, row.qualifier);
    q.bind(4, row.value);
    if (sqlite3_step(q.s) != SQLITE_DONE) return db_error(db_, "put setting");
    return {};
}

result<void> store::put_event(const async_event& e) {
    std::lock_guard lock(mutex_);
    stmt q(db_, "INSERT INTO async_events (id, function, qualifier, payload, attempts, enqueued_ms, next_attempt_ms) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (id) DO UPDATE SET attempts = excluded.attempts, "
                "next_attempt_ms = excluded.next_attempt_ms");
    q.bind(1, e.id);
    q.bind(2, e.function);
    q.bind(3, e.qualifier);
    sqlite3_bind_blob(q.s, 4, e.payload.data(), static_cast<int>(e.payload.size()), SQLITE_TRANSIENT);
    sqlite3_bind_int(q.s, 5, e.attempts);
    sqlite3_bind_int64(q.s, 6, e.enqueued_ms);
    sqlite3_bind_int64(q.s, 7, e.next_attempt_ms);
    if (sqlite3_step(q.s) != SQLITE_DONE) return db_error(db_, "put async event");
    return {};
}

result<void> store::remove_event(const std::string& id) {
    std::lock_guard lock(mutex_);
    stmt q(db_, "DELETE FROM async_events WHERE id = ?1");
    q.bind(1, id);
    if (sqlite3_step(q.s) != SQLITE_DONE) return db_error(db_, "remove async event");
    return {};
}

std::vector<async_event> store::load_events() {
    std::lock_guard lock(mutex_);
    std::vector<async_event> out;
    stmt q(db_, "SELECT id, function, qualifier, payload, attempts, enqueued_ms, next_attempt_ms FROM async_events "
                "ORDER BY enqueued_ms");
    while (sqlite3_step(q.s) == SQLITE_ROW) {
        async_event e;
        e.id = reinterpret_cast<const char*>(sqlite3_column_text(q.s, 0));
        e.function = reinterpret_cast<const char*>(sqlite3_column_text(q.s, 1));
        e.qualifier = reinterpret_cast<const char*>(sqlite3_column_text(q.s, 2));
        const auto* blob = static_cast<const char*>(sqlite3_column_blob(q.s, 3));
        e.payload.assign(blob != nullptr ? blob : "", static_cast<std::size_t>(sqlite3_column_bytes(q.s, 3)));
        e.attempts = sqlite3_column_int(q.s, 4);
        e.enqueued_ms = sqlite3_column_int64(q.s, 5);
        e.next_attempt_ms = sqlite3_column_int64(q.s, 6);
        out.push_back(std::move(e));
    }
    return out;
}

result<void> store::delete_setting(const std::string& function, const std::string& kind, const std::string& qualifier) {
    std::lock_guard lock(mutex_);
    stmt q(db_, "DELETE FROM settings WHERE name = ?1 AND kind = ?2 AND qualifier = ?3");
    q.bind(1, function);
    q.bind(2, kind);
    q.bind(3, qualifier);
    if (sqlite3_step(q.s) != SQLITE_DONE) return db_error(db_, "delete setting");
    return {};
}

void store::collect_garbage(const std::set<std::string>& referenced) {
    std::error_code ec;
    std::size_t removed = 0;
    for (const auto& sub : {"code", "unpacked", "opt"}) {
        for (fs::directory_iterator it(dir_ / sub, ec), end; !ec && it != end; it.increment(ec)) {
            std::string stem = it->path().filename().string();
            if (const auto dot = stem.find('.'); dot != std::string::npos) {
                stem = stem.substr(0, dot);
            }
            const bool temp = it->path().filename().string().find(".tmp-") != std::string::npos;
            if (temp || referenced.count(stem) == 0) {
                fs::remove_all(it->path(), ec);
                ++removed;
            }
        }
    }
    if (removed > 0) {
        spdlog::info("store: removed {} unreferenced code files", removed);
    }
}

}  // namespace lambent::store
