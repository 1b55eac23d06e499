#!/usr/bin/env bash
# Programs the tests call, installed from Debian when missing (as root, or with
# sudo), so `npm test` works on a fresh machine:
#   chromium (+ fonts)  the HTML report test renders reports in a real headless browser
#   openssl             test/cli/kubeconfig.test.ts makes throwaway CAs and server certificates
set -euo pipefail
browser="${ASA_CHROMIUM:-/usr/bin/chromium}"
packages=()
[ -x "$browser" ] || packages+=(chromium fonts-liberation)
command -v openssl >/dev/null || packages+=(openssl)
[ ${#packages[@]} -eq 0 ] && exit 0
echo "installing ${packages[*]} from Debian for the tests" >&2
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${packages[@]}" >/dev/null
