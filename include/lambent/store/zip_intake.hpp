#pragma once
/// Unpacking an uploaded ZIP into a directory, refusing anything unsafe: absolute paths, `..`,
/// symlinks that leave the tree, more than 250 MB unzipped, absurd entry counts and ratios.

#include "lambent/common/error.hpp"

#include <cstdint>
#include <filesystem>
#include <string_view>

namespace lambent::store {

struct unzip_limits {
    std::uint64_t max_unzipped_bytes = 262144000;  // AWS: 250 MB unzipped
    std::uint64_t max_entries = 20000;
    /// Largest uncompressed/compressed ratio accepted for an entry larger than ratio_min_bytes (deflate tops
    /// out near 1032:1). Smaller entries of zeros (sparse databases, padding) are legal and common.
    std::uint64_t max_ratio = 1000;
    std::uint64_t ratio_min_bytes = 16u << 20;
};

struct unzip_summary {
    std::uint64_t unzipped_bytes = 0;
    std::uint64_t entries = 0;
};

/// Extracts `zip` into `dest` (which must not exist; it is created). Preserves Unix permission bits
/// (files stay at least world-readable). On error `dest` is removed again. Blocking: run off the event loop.
/// Errors: invalid_parameter_value with AWS's wording.
[[nodiscard]] result<unzip_summary> extract_zip(std::string_view zip, const std::filesystem::path& dest,
                                                const unzip_limits& limits = {});

}  // namespace lambent::store
