#!/usr/bin/env bash
# Debian packages from a Meson build configured with --prefix=/usr, with
# dpkg-deb (Debian 12), no debhelper:
#   edgemlp           the CLI, libedgemlp.so.0 and libedgemlp.a, the headers,
#                     edgemlp.pc, the man pages, the Python module if built
#                     (the install tags runtime, devel, man, python-runtime)
#   edgemlp-firmware  the firmware, static from a board build (cross/*.txt), the
#                     systemd units, the system user edgemlp (sysusers.d, made
#                     in postinst) and its inbox /var/lib/edgemlp/inbox
# Usage: tools/scripts/build-deb.sh edgemlp BUILD_DIR OUT_DIR
#        tools/scripts/build-deb.sh edgemlp-firmware BUILD_DIR OUT_DIR [MAN_PAGE]
# BUILD_DIR must be compiled. MAN_PAGE: edgemlp-firmware.1 of a native build
# (help2man cannot run a cross-built firmware); the package goes without one
# otherwise. The architecture is the build's host machine (amd64, arm64,
# armhf); the version is project()'s, Debian revision 1. Prints the .deb path.
# Example:
#   meson setup build-deb --prefix=/usr --buildtype=release && meson compile -C build-deb
#   tools/scripts/build-deb.sh edgemlp build-deb out/
set -euo pipefail
[ $# -ge 3 ] || { sed -n '2,18p' "$0" >&2; exit 2; }
package=$1 build=$(cd "$2" && pwd) out=$3 man_page=${4:-}
root=$(cd "$(dirname "$0")/../.." && pwd)
# Maintainer: whoever builds, as dch finds them (DEBFULLNAME, DEBEMAIL), else
# the checkout's git identity; .invalid (RFC 2606) says there is none.
maintainer_name=${DEBFULLNAME:-$(git -C "$root" config user.name || echo "edgemlp builder")}
maintainer_mail=${DEBEMAIL:-$(git -C "$root" config user.email || echo "builder@edgemlp.invalid")}
maintainer="$maintainer_name <$maintainer_mail>"
mkdir -p "$out"
out=$(cd "$out" && pwd)

introspect() {  # introspect WHAT PYTHON_EXPRESSION_OF_j
  meson introspect "$build" "--$1" | python3 -c "import json, sys; j = json.load(sys.stdin); print($2)"
}
prefix=$(introspect buildoptions "next(o['value'] for o in j if o['name'] == 'prefix')")
[ "$prefix" = /usr ] || { echo "build-deb: $build has prefix $prefix; a package needs --prefix=/usr" >&2; exit 2; }
version=$(introspect projectinfo "j['version']")-1
# The host machine, from the firmware every build has (Meson 1.0 has no
# introspect --machines).
machine=$(readelf -h "$build/firmware-sample/edgemlp-firmware" | sed -n 's/^ *Machine: *//p')
case $machine in
  *X86-64) arch=amd64 ;;
  AArch64) arch=arm64 ;;
  ARM) arch=armhf ;;
  *) echo "build-deb: no Debian architecture for machine '$machine'" >&2; exit 2 ;;
esac

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
pkg=$stage/pkg
doc=$pkg/usr/share/doc/$package
mkdir -p "$pkg/DEBIAN" "$doc"
case $package in
  edgemlp) tags=runtime,devel,man,python-runtime ;;
  edgemlp-firmware) tags=firmware ;;
  *) echo "build-deb: unknown package $package (edgemlp or edgemlp-firmware)" >&2; exit 2 ;;
esac
meson install -C "$build" --no-rebuild --destdir "$pkg" --tags "$tags" >/dev/null
# Installed binaries and libraries without debug symbols (Debian policy);
# the build's own files stay untouched.
strip_tool="strip"
[ "$arch" = arm64 ] && strip_tool=aarch64-linux-gnu-strip
[ "$arch" = armhf ] && strip_tool=arm-linux-gnueabihf-strip
find "$pkg/usr/bin" -type f -exec "$strip_tool" --strip-unneeded --remove-section=.comment \
  --remove-section=.note {} +
find "$pkg/usr/lib" -type f -name '*.so*' -exec "$strip_tool" --strip-unneeded \
  --remove-section=.comment --remove-section=.note {} + -exec chmod 644 {} +
find "$pkg/usr/lib" -type f -name '*.a' -exec "$strip_tool" --strip-debug \
  --remove-section=.comment {} +
if [ -n "$man_page" ]; then
  install -D -m 644 "$man_page" "$pkg/usr/share/man/man1/$(basename "$man_page")"
fi
find "$pkg/usr/share/man" -type f -name '*.1' -exec gzip -9n {} + 2>/dev/null || true

# Documentation: copyright (DEP-5), the upstream changelog, the Debian one.
{
  cat <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: edgemlp
Comment: Third-party software and what a binary must carry: THIRD_PARTY.md
 of the source. Dependencies are Debian packages; none is vendored.

Files: *
Copyright: 2026 the edgemlp authors
License: Apache-2.0
EOF
  if [ "$package" = edgemlp ]; then
    cat <<'EOF'

Files: usr/bin/edgemlp
Copyright: the edgemlp authors; Eigen (MPL-2.0, Debian source package eigen3,
 unmodified); CLI11 (BSD-3-Clause, University of Cincinnati); nlohmann/json
 (MIT, Niels Lohmann); stb (MIT, Sean Barrett); Highway (Apache-2.0, Google LLC)
License: Apache-2.0 and MPL-2.0 and BSD-3-Clause and MIT
Comment: Eigen's source: the Debian source package eigen3. The license texts
 of MPL-2.0 are in /usr/share/common-licenses/MPL-2.0; BSD-3-Clause and MIT
 as in the Debian packages libcli11-dev, nlohmann-json3-dev and libstb-dev.
EOF
  else
    cat <<'EOF'

Files: usr/bin/edgemlp-firmware
Copyright: the edgemlp authors; Highway (Apache-2.0, Google LLC); stb_image
 (MIT, Sean Barrett); the GNU C library (LGPL-2.1+) and the GCC runtime
 (GPL-3.0+ with the GCC Runtime Library Exception), linked statically
License: Apache-2.0 and MIT and LGPL-2.1+
Comment: The binary is linked statically. LGPL-2.1+ (glibc): the source of
 edgemlp and of the toolchain's glibc (Debian 12 source package glibc) lets
 you relink it against a modified glibc. License texts: Apache-2.0 below,
 LGPL-2.1 in /usr/share/common-licenses/LGPL-2.1.
EOF
  fi
  cat <<'EOF'

License: Apache-2.0
 Licensed under the Apache License, Version 2.0 (the "License"); you may not
 use this file except in compliance with the License. You may obtain a copy
 of the License at http://www.apache.org/licenses/LICENSE-2.0
 .
 On Debian systems, the complete text of the Apache License, Version 2.0 is
 in /usr/share/common-licenses/Apache-2.0.
EOF
} > "$doc/copyright"
gzip -9nc "$root/CHANGELOG.md" > "$doc/changelog.gz"
date=$(date -R -d "@${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || date +%s)}")
cat > "$stage/changelog.Debian" <<EOF
$package ($version) unstable; urgency=medium

  * Built from the edgemlp source with tools/scripts/build-deb.sh.

 -- $maintainer  $date
EOF
gzip -9nc "$stage/changelog.Debian" > "$doc/changelog.Debian.gz"

# Depends: the shared libraries the dynamically linked ELF files need
# (dpkg-shlibdeps); nothing for a static firmware.
depends=""
dynamic=$(find "$pkg/usr" -type f \( -perm -u+x -o -name '*.so*' \) -exec sh -c \
  'for f; do if readelf -d "$f" 2>/dev/null | grep -q "(NEEDED)"; then echo "$f"; fi; done' sh {} +)
if [ -n "$dynamic" ]; then
  mkdir -p "$stage/src/debian"
  printf 'Source: edgemlp\n\nPackage: %s\nArchitecture: any\n' "$package" > "$stage/src/debian/control"
  # libedgemlp.so.0 is this package's own: look it up here, not in a package.
  own_libs=$(find "$pkg" -name 'libedgemlp.so.0' -printf '-l%h\n')
  # shellcheck disable=SC2086
  depends=$(cd "$stage/src" && dpkg-shlibdeps -O $own_libs --ignore-missing-info $dynamic 2>/dev/null |
    sed -n 's/^shlibs:Depends=//p')
  [ -n "$depends" ] || { echo "build-deb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }
fi
# The Python module (python/, if built) needs an interpreter and NumPy.
if [ -n "$(find "$pkg/usr/lib" -path '*python3*' -name 'edgemlp*.so' 2>/dev/null)" ]; then
  depends="$depends, python3, python3-numpy"
fi

size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
if [ "$package" = edgemlp ]; then
  description="int8 MLP runtime and CLI: train on MNIST, export, run with SIMD
 edgemlp trains small neural networks on MNIST, exports them as checksummed
 int8 blobs and runs them with Highway SIMD, bit-exact with a scalar
 reference. This package has the edgemlp command line, the runtime library
 (libedgemlp.so.0 and libedgemlp.a) with its C and C++ headers and
 edgemlp.pc for pkg-config, and the man pages."
else
  description="edgemlp digit classifier for boards, with systemd units
 edgemlp-firmware runs an int8 edgemlp model on frames from stdin, a FIFO,
 an inbox directory or a V4L2 camera; board builds link it statically. The units
 edgemlp-firmware.service (inbox /var/lib/edgemlp/inbox, system user
 edgemlp) and edgemlp-camera.service (Raspberry Pi camera via rpicam-vid)
 are installed but not enabled: put a model at
 /usr/local/share/edgemlp/model.q8 first."
fi
{
  echo "Package: $package"
  echo "Version: $version"
  echo "Architecture: $arch"
  echo "Maintainer: $maintainer"
  echo "Installed-Size: $size"
  [ -n "$depends" ] && echo "Depends: $depends"
  echo "Section: science"
  echo "Priority: optional"
  echo "Description: $description"
} > "$pkg/DEBIAN/control"

if [ "$package" = edgemlp-firmware ]; then
  mkdir -p "$pkg/var/lib/edgemlp/inbox"
  if [ -z "$dynamic" ]; then
    mkdir -p "$pkg/usr/share/lintian/overrides"
    cat > "$pkg/usr/share/lintian/overrides/$package" <<EOF
# A board binary, linked statically on purpose (cross/*.txt): one file for
# every Raspberry Pi OS, no libhwy.so or multiarch libraries needed.
$package: statically-linked-binary [usr/bin/edgemlp-firmware]
EOF
  fi
  cat > "$pkg/DEBIAN/postinst" <<'EOF'
#!/bin/sh
# The system user and group edgemlp (sysusers.d/edgemlp.conf), the inbox
# owned by it (mode 2770: members of the group drop files in), and systemd
# told about the units. They are not enabled: a model must be there first.
# Without systemd there is no service to run, and no user is made.
set -e
if [ "$1" = configure ] && command -v systemd-sysusers >/dev/null 2>&1; then
  systemd-sysusers edgemlp.conf
  chown edgemlp:edgemlp /var/lib/edgemlp /var/lib/edgemlp/inbox
  chmod 2770 /var/lib/edgemlp /var/lib/edgemlp/inbox
fi
if [ -d /run/systemd/system ]; then
  systemctl --system daemon-reload >/dev/null || true
fi
exit 0
EOF
  cat > "$pkg/DEBIAN/postrm" <<'EOF'
#!/bin/sh
# The user edgemlp and the files in the inbox stay (Debian keeps system
# users); systemd forgets the units.
set -e
if [ -d /run/systemd/system ]; then
  systemctl --system daemon-reload >/dev/null || true
fi
exit 0
EOF
  chmod 755 "$pkg/DEBIAN/postinst" "$pkg/DEBIAN/postrm"
fi
if [ -n "$(find "$pkg/usr/lib" -name 'libedgemlp.so.*' 2>/dev/null)" ]; then
  echo "libedgemlp 0 $package (>= ${version%-*})" > "$pkg/DEBIAN/shlibs"
  printf 'activate-noawait ldconfig\n' > "$pkg/DEBIAN/triggers"
fi

deb=$out/${package}_${version}_$arch.deb
find "$pkg" -type d -exec chmod 755 {} +
dpkg-deb --root-owner-group -Zxz --build "$pkg" "$deb" >/dev/null
echo "$deb"
