#!/usr/bin/env bash
# Build ds01-test/busybox:latest without any registry.
#
# The image is a static busybox with links for its applets, a writable /tmp and minimal
# /etc/passwd + /etc/group, imported from a tar stream with `docker import`. Needs root on
# Debian 12 (it installs busybox-static when /bin/busybox is not a static build).
#
# Environment:
#   DS01_TEST_IMAGE  image reference to build (default ds01-test/busybox:latest)
set -euo pipefail

image="${DS01_TEST_IMAGE:-ds01-test/busybox:latest}"
say() { printf 'build-test-image: %s\n' "$*"; }
die() { printf 'build-test-image: error: %s\n' "$*" >&2; exit 1; }

find_static_busybox() {
    local candidate
    for candidate in /bin/busybox /usr/bin/busybox; do
        [ -x "$candidate" ] || continue
        "$candidate" --list >/dev/null 2>&1 || continue
        # ldd fails on a static program; a dynamic one would need libc inside the image.
        if ! ldd "$candidate" >/dev/null 2>&1; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

if ! busybox="$(find_static_busybox)"; then
    say "installing busybox-static"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends busybox-static >/dev/null
    busybox="$(find_static_busybox)" || die "no static busybox after installing busybox-static"
fi
say "using $busybox"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"
mkdir -p "$rootfs"/{bin,etc,tmp,root,proc,sys,dev,home}
chmod 1777 "$rootfs/tmp"
cp "$busybox" "$rootfs/bin/busybox"
chmod 755 "$rootfs/bin/busybox"

count=0
for applet in $("$busybox" --list); do
    [ "$applet" = busybox ] && continue
    ln -sf busybox "$rootfs/bin/$applet"
    count=$((count + 1))
done
for needed in sh sleep cat echo dd head true false ls id kill ps env; do
    [ -e "$rootfs/bin/$needed" ] || die "busybox lacks the applet '$needed'"
done

cat >"$rootfs/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat >"$rootfs/etc/group" <<'GROUP'
root:x:0:
nogroup:x:65534:
GROUP

tar --numeric-owner --owner=0 --group=0 -C "$rootfs" -c . \
    | docker import \
        --change 'CMD ["/bin/sh"]' \
        --change 'ENV PATH=/bin' \
        --message "ds01 test image: static busybox with $count applets" \
        - "$image" >/dev/null
say "built $image ($count applets)"
