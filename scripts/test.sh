#!/usr/bin/env bash
# The one test command: installs what the tests need, type-checks, then runs every test (unit, TCP
# integration, compiled binary, real nmap). Works on a fresh Debian/Ubuntu machine as root or with sudo.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v nmap >/dev/null || need+=(nmap)
command -v ip >/dev/null || need+=(iproute2)          # lo up inside the test's own network namespace
command -v setpriv >/dev/null || need+=(util-linux)   # unprivileged runs of the CLI in tests
command -v curl >/dev/null || need+=(curl)              # real clients: ftp, http Basic, forms, NTLM, https, proxy (curl -x -U), elasticsearch, docker
[ -f /usr/share/dirb/wordlists/common.txt ] || need+=(dirb)  # the scanner word list the http faces answer as the real Apache does (test/clients/http-depth.test.ts)
command -v python3 >/dev/null || need+=(python3)      # the system zlib that checks the gzip bytes
command -v docker >/dev/null || need+=(docker.io)       # the real docker CLI against the docker face (-H tcp://); only the client is run
command -v openssl >/dev/null || need+=(openssl)        # certificates read back (test/tls.test.ts)
command -v mariadb >/dev/null || need+=(mariadb-client) # real MySQL client
command -v psql >/dev/null || need+=(postgresql-client) # real PostgreSQL client (psql)
command -v tsql >/dev/null || need+=(freetds-bin)         # real MSSQL client (FreeTDS tsql: SQL and NTLM logins)
command -v redis-cli >/dev/null || need+=(redis-tools)    # real redis client (test/clients/redis.test.ts)
command -v smbclient >/dev/null || need+=(smbclient)    # real SMB client
command -v ldapwhoami >/dev/null || need+=(ldap-utils)  # real LDAP clients: ldapsearch, ldapwhoami
command -v rsync >/dev/null || need+=(rsync)            # real rsync client: module list and a refused module login
command -v sipsak >/dev/null || need+=(sipsak)          # real SIP client: a digest REGISTER over TCP
command -v ssh >/dev/null || need+=(openssh-client)     # real SSH clients: ssh, ssh-keyscan, ssh-keygen
command -v sshpass >/dev/null || need+=(sshpass)
/usr/bin/python3 -c "import paramiko" 2>/dev/null || need+=(python3-paramiko)
/usr/bin/python3 -c "import pymongo" 2>/dev/null || need+=(python3-pymongo)  # the real MongoDB driver (test/clients/mongodb.test.ts: server_info, a refused SCRAM login)
[ -x /usr/bin/python3 ] || need+=(python3)                 # real IMAP and POP3 clients: imaplib, poplib (standard library)
command -v hydra >/dev/null || need+=(hydra)            # the common SSH brute-forcer (libssh)
command -v jq >/dev/null || need+=(jq)                  # a JSON reader of the event log (test/escape.test.ts)
command -v logrotate >/dev/null || need+=(logrotate)    # the shipped logrotate rule, run against the trap (test/release.test.ts)
[ -x /usr/bin/python3 ] || need+=(python3)             # a real SMTP client: smtplib (test/clients/smtp.test.ts)
command -v swaks >/dev/null || need+=(swaks)            # a real SMTP client: swaks AUTH LOGIN (test/clients/smtp.test.ts)
command -v rsyslogd >/dev/null || need+=(rsyslog)       # a real syslog receiver for the syslog sink (test/sinks.test.ts runs its own, with its own config)
command -v telnet >/dev/null || need+=(telnet)          # the real telnet client (test/clients/telnet.test.ts)
command -v expect >/dev/null || need+=(expect)          # drives the telnet client through login
command -v vncsnapshot >/dev/null || need+=(vncsnapshot) # a real VNC viewer, headless (test/clients/vnc.test.ts)
command -v xfreerdp >/dev/null || need+=(freerdp2-x11)  # the real RDP client (test/clients/rdp.test.ts; /auth-only)
command -v Xvfb >/dev/null || need+=(xvfb)                # a display xfreerdp insists on even for /auth-only
command -v promtool >/dev/null || need+=(prometheus)    # promtool lints the --metrics scrape, and a real prometheus (run by the test on loopback, not the service) scrapes it (test/metrics.test.ts)
command -v aria2c >/dev/null || need+=(aria2)          # a real BitTorrent client announcing to the tracker face (test/clients/torrent.test.ts)
command -v chromium >/dev/null || need+=(chromium)      # a real browser, headless, renders and screenshots report --html (test/report-html.test.ts)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

npm ci --no-audit --no-fund --loglevel=error
node_modules/.bin/tsc --noEmit -p .
# Tests that start servers wait for real daemons' pauses (a refused FTP login takes seconds): bun's
# default of 5 s per test is too short for them, and bunfig.toml's timeout is not read by this bun.
node_modules/.bin/bun test --timeout 60000 "$@"
