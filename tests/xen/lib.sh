# Shared by the host-side testbed scripts (fetch, mkimage, run): paths,
# progress lines and errors. Sourced by bash.
#
# Paths:
#   XT_SRC    tests/xen in the source tree
#   XT_BUILD  tests/xen in the build tree (images, share, logs)
#   XT_CACHE  downloaded packages and their unpacked staging folder; outside
#             the checkout, kept between runs (DRVDOM_XEN_CACHE overrides)

XT_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
XT_BUILD=${DRVDOM_BUILDDIR:-$(pwd)}/tests/xen
XT_CACHE=${DRVDOM_XEN_CACHE:-/var/cache/drvdom/xen}
if [ -z "${DRVDOM_XEN_CACHE:-}" ] && ! mkdir -p "$XT_CACHE" 2>/dev/null; then
    XT_CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/drvdom/xen
fi
XT_STAGE=$XT_CACHE/stage
XT_IMAGES=$XT_BUILD/images

xt_say() { printf 'testbed: %s\n' "$*"; }
xt_die() {
    printf 'testbed: error: %s\n' "$*" >&2
    exit 1
}

# xt_busybox: the staged busybox, used on the host too (cpio, unxz).
xt_busybox() { "$XT_STAGE/bin/busybox" "$@"; }
