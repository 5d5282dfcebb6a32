#!/usr/bin/env bash
# Installs the Debian packages the test suite and the benchmarks need, if they are missing:
# PostgreSQL (tests run on it too), Chromium (browser tests), fonts for Chinese, dovecot (the
# email intake tests' IMAP server), pango (WeasyPrint's layout, the PDF reports); with --bench
# also wrk and python3-venv (the side-by-side benchmark's django-helpdesk venv).
set -euo pipefail

want=()
command -v chromium >/dev/null 2>&1 || want+=(chromium)
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || want+=(postgresql)
fc-list 2>/dev/null | grep -qi "noto sans cjk" || want+=(fonts-noto-cjk)
/sbin/ldconfig -p 2>/dev/null | grep -q libpango-1.0 || want+=(libpango-1.0-0 libpangoft2-1.0-0)
[[ -x /usr/sbin/dovecot ]] || want+=(dovecot-imapd)
if [[ "${1:-}" == "--bench" ]]; then
  # wrk drives the HTTP benchmarks; the side-by-side one also starts its own PostgreSQL
  # cluster (postgresql, above: initdb, pg_ctl, psql) and builds django-helpdesk's venv.
  command -v wrk >/dev/null 2>&1 || want+=(wrk)
  python3 -c "import ensurepip, venv" >/dev/null 2>&1 || want+=(python3-venv)
fi

if ((${#want[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    SUDO=sudo
  else
    SUDO=
  fi
  echo "installing system packages: ${want[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${want[@]}"
fi
