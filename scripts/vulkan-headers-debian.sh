#!/usr/bin/env bash
# Newer Vulkan headers for `haqa toolchain build --backend vulkan` on Debian 12 (bookworm), whose libvulkan-dev 1.3.239
# lacks VK_EXT_layer_settings, which this llama.cpp's ggml-vulkan.cpp uses unconditionally (vk::LayerSettingEXT): the
# compile stops with "'LayerSettingEXT' is not a member of 'vk'". No cmake option of ggml-vulkan avoids it.
#
# It downloads Debian 13 (trixie)'s libvulkan-dev .deb with apt (its own package lists in a temporary folder: the
# machine's apt sources and installed packages are not touched) and unpacks it into DEST. Only the headers are used:
# the build still links bookworm's loader (libvulkan1 1.3.239), glslc and spirv-headers, which are enough.
#
#   bash scripts/vulkan-headers-debian.sh ~/.local/vulkan-headers
#   VULKAN_SDK=~/.local/vulkan-headers/usr haqa toolchain build --backend vulkan
#
# Needs apt-get and dpkg-deb (Debian/Ubuntu) and Debian's archive keyring (/usr/share/keyrings/debian-archive-keyring.gpg).
set -euo pipefail
dest="${1:?usage: vulkan-headers-debian.sh DEST (the headers land in DEST/usr/include; then VULKAN_SDK=DEST/usr)}"
suite="${VULKAN_HEADERS_SUITE:-trixie}"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -f "$keyring" ] || {
  echo "vulkan-headers-debian: $keyring is missing (apt-get install debian-archive-keyring)" >&2
  exit 1
}
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial"
echo "deb [signed-by=$keyring] http://deb.debian.org/debian $suite main" >"$tmp/sources.list"
apt_opts=(
  -o "Dir::Etc::sourcelist=$tmp/sources.list" -o "Dir::Etc::sourceparts=-" -o "Dir::State::Lists=$tmp/lists"
  -o "Dir::Cache=$tmp/cache" -o "APT::Sandbox::User=root" -o "Debug::NoLocking=1"
)
apt-get "${apt_opts[@]}" -qq update
(cd "$tmp" && apt-get "${apt_opts[@]}" -qq download "libvulkan-dev/$suite")
deb="$(ls "$tmp"/libvulkan-dev_*.deb)"
mkdir -p "$dest"
dpkg-deb -x "$deb" "$dest"
version="$(sed -n 's/^#define VK_HEADER_VERSION \([0-9]*\).*/\1/p' "$dest/usr/include/vulkan/vulkan_core.h")"
grep -q 'VK_EXT_layer_settings' "$dest/usr/include/vulkan/vulkan_core.h" || {
  echo "vulkan-headers-debian: $(basename "$deb") has no VK_EXT_layer_settings either" >&2
  exit 1
}
echo "vulkan-headers-debian: $(basename "$deb") (header version $version) unpacked into $dest"
echo "  now: VULKAN_SDK=$dest/usr haqa toolchain build --backend vulkan"
