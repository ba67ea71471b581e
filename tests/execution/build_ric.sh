#!/usr/bin/env bash
# Builds the unmodified npm package aws-lambda-ric@3.3.0 (native addon included) into a cache outside
# the repository and the build tree, once. Idempotent: a complete cache is left alone.
#
#   tests/execution/build_ric.sh            # prints the node_modules path on its last line
#
# Cache: ${LAMBENT_RIC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lambent/aws-lambda-ric-3.3.0}
# 3.3.0 because 4.x requires Node >= 22. Its install scripts build a bundled curl and aws-lambda-cpp
# with cmake/autoconf/automake/libtool (1-3 min on 2 cores); npm 11 skips install scripts unless told.
set -euo pipefail

RIC_VERSION=3.3.0
CACHE="${LAMBENT_RIC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lambent/aws-lambda-ric-${RIC_VERSION}}"
STAMP="$CACHE/.complete"
say() { echo "build_ric: $*" >&2; }

check() {
    local root="$1/node_modules/aws-lambda-ric"
    [[ -f "$root/bin/index.mjs" ]] || return 1
    # The native addon the install scripts build (postinstall copies it to dist/).
    [[ -f "$root/dist/rapid-client.node" ]] || return 1
    # (It cannot simply be require()d here: it aborts without AWS_LAMBDA_RUNTIME_API.)
    [[ "$(head -c 4 "$root/dist/rapid-client.node" | od -An -c | tr -d ' ')" == '177ELF' ]] || return 1
}

if [[ -f "$STAMP" ]] && check "$CACHE"; then
    say "cache complete: $CACHE"
    echo "$CACHE/node_modules"
    exit 0
fi

command -v node >/dev/null || { say "node is not installed"; exit 1; }
command -v npm  >/dev/null || { say "npm is not installed"; exit 1; }

# Build tools the bundled curl / aws-lambda-cpp need (Debian packages).
missing=()
for pair in cmake:cmake autoconf:autoconf automake:automake libtoolize:libtool make:make g++:g++ \
            python3:python3 patch:patch; do
    cmd="${pair%%:*}" pkg="${pair##*:}"
    command -v "$cmd" >/dev/null || missing+=("$pkg")
done
if (( ${#missing[@]} )); then
    if [[ $(id -u) -ne 0 ]]; then
        say "missing build tools (${missing[*]}) and not root; install them: apt-get install ${missing[*]}"
        exit 1
    fi
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends "${missing[@]}" >&2 \
        || { apt-get update >&2 && apt-get install -y --no-install-recommends "${missing[@]}" >&2; }
fi

mkdir -p "$(dirname "$CACHE")"
WORK="$(mktemp -d "$(dirname "$CACHE")/.ric-build.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
say "building aws-lambda-ric@${RIC_VERSION} in $WORK (takes a few minutes)"
cd "$WORK"
echo '{"name":"lambent-ric-cache","private":true}' > package.json
npm install --no-audit --no-fund --no-package-lock --foreground-scripts --ignore-scripts=false \
    "aws-lambda-ric@${RIC_VERSION}" >&2

check "$WORK" || { say "npm install finished but the native addon is missing or does not load"; exit 1; }
touch "$WORK/.complete"
rm -rf "$CACHE"
mv "$WORK" "$CACHE"
trap - EXIT
say "cache complete: $CACHE"
echo "$CACHE/node_modules"
