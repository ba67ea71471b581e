// Fuzz target: store::extract_zip on an uploaded archive, into a fresh directory under a private temporary
// directory (removed again after each input). Checks that nothing is written outside the destination.
//
// Input: the ZIP bytes.

#include "lambent/store/zip_intake.hpp"

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

namespace fs = std::filesystem;

namespace {

fs::path scratch() {
    // Never destroyed: the exit handler that removes it runs after static destructors would have.
    static const fs::path* dir = [] {
        std::string tmpl = (fs::temp_directory_path() / "lambent-fuzz-zip-XXXXXX").string();
        if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
        auto* p = new fs::path(tmpl);
        std::atexit([] { std::error_code ec; fs::remove_all(scratch(), ec); });
        return p;
    }();
    return *dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view zip(reinterpret_cast<const char*>(data), size);
    const fs::path root = scratch();
    const fs::path dest = root / "dest";
    lambent::store::unzip_limits limits;
    limits.max_unzipped_bytes = 8u << 20;  // keep each run small; the limit logic is what is exercised
    limits.max_entries = 200;
    limits.ratio_min_bytes = 1u << 20;
    const auto res = lambent::store::extract_zip(zip, dest, limits);
    std::error_code ec;
    if (!res && fs::exists(dest, ec)) __builtin_trap();  // a refused archive leaves nothing behind
    // Nothing may appear next to the destination (`..`, absolute paths, symlinks leaving the tree).
    for (const auto& e : fs::directory_iterator(root, ec)) {
        if (e.path() != dest) __builtin_trap();
    }
    fs::remove_all(dest, ec);
    return 0;
}
