// Runs a libFuzzer target's LLVMFuzzerTestOneInput over files, without libFuzzer: the seed corpus and the
// regression inputs of tests/fuzz stay checked by `make test` in the normal (GCC) build.
//
//   fuzz_<target>_replay PATH...   (a PATH is a file or a directory of files; a missing PATH is skipped)
//
// Exits non-zero when no input was found; a crash, sanitizer report or uncaught exception fails the test.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace {

int run_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // A copy in its own allocation, so ASan sees reads past the end like under libFuzzer.
    std::vector<std::uint8_t> copy(bytes.begin(), bytes.end());
    LLVMFuzzerTestOneInput(copy.data(), copy.size());
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    if (LLVMFuzzerInitialize != nullptr) LLVMFuzzerInitialize(&argc, &argv);
    int ran = 0;
    for (int i = 1; i < argc; ++i) {
        const std::filesystem::path arg(argv[i]);
        std::error_code ec;
        if (std::filesystem::is_directory(arg, ec)) {
            std::vector<std::filesystem::path> files;
            for (const auto& e : std::filesystem::directory_iterator(arg)) {
                if (e.is_regular_file()) files.push_back(e.path());
            }
            std::sort(files.begin(), files.end());
            for (const auto& f : files) {
                std::printf("input %s\n", f.c_str());
                std::fflush(stdout);
                ran += run_file(f);
            }
        } else if (std::filesystem::is_regular_file(arg, ec)) {
            std::printf("input %s\n", arg.c_str());
            std::fflush(stdout);
            ran += run_file(arg);
        } else {
            std::printf("skipped %s (missing)\n", arg.c_str());
        }
    }
    std::printf("%d inputs ran\n", ran);
    return ran > 0 ? 0 : 1;
}
