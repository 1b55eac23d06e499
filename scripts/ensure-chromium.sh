#!/usr/bin/env bash
# The HTML report test renders reports in a real headless browser: Debian's
# chromium. Installs it when missing (as root, or with sudo), so `npm test`
# works on a fresh machine.
set -euo pipefail
browser="${ASA_CHROMIUM:-/usr/bin/chromium}"
[ -x "$browser" ] && exit 0
echo "installing Debian's chromium for the HTML report test" >&2
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium fonts-liberation >/dev/null
