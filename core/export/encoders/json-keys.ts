/** The json encoder's fixed byte strings (keys with their punctuation) and small value writers. */
import type { ByteSink } from '../../util/bytes.js';

export const B = (s: string) => Buffer.from(s, 'utf8');
export const K = {
  endts: B(',"endts":'), opflags: B(',"opflags":'), ret: B(',"ret":'), ts: B(',"ts":'), type: B(',"type":'),
  ke: B(',"ke":{"action":'), kind: B(',"kind":'), message: B(',"message":'),
  container: B(',"container":{"id":'), cimage: B(',"image":'), cimageid: B(',"imageid":'), cname: B(',"name":'), cpriv: B(',"privileged":'), ctype: B(',"type":'),
  file: B(',"file":{"directory":'), fd: B(',"fd":'), isr: B(',"is_open_read":'), isw: B(',"is_open_write":'), fname: B(',"name":'),
  newdir: B(',"newdirectory":'), newname: B(',"newname":'), newoid: B(',"newoid":'), newpath: B(',"newpath":'), newsym: B(',"newsymlink":'),
  oid: B(',"oid":'), openflags: B(',"openflags":'), path: B(',"path":'), symlink: B(',"symlink":'), ftype: B(',"type":'),
  flow: B(',"flow":{"rbytes":'), rops: B(',"rops":'), wbytes: B(',"wbytes":'), wops: B(',"wops":'),
  meta: B(',"meta":{"schema":'), tracename: B(',"tracename":'),
  net: B(',"net":{"dip":'), dport: B(',"dport":'), ip: B(',"ip":['), port: B('],"port":['), proto: B('],"proto":'), sip: B(',"sip":'), sport: B(',"sport":'),
  node: B(',"node":{"id":'), nip: B(',"ip":'),
  pf: B(',"pf":{"nthreads":'), nexits: B(',"nexits":'), nerrors: B(',"nerrors":'),
  pod: B(',"pod":{"hostip":'), pid: B(',"id":'), internalip: B(',"internalip":'), pname: B(',"name":'), pns: B(',"namespace":'),
  nodename: B(',"nodename":'), restartcnt: B(',"restartcnt":'), services: B(',"services":'), pts: B(',"ts":'),
  pproc: B(',"pproc":{"args":'), proc: B(',"proc":{"acmdline":'), aexe: B(',"aexe":'), aname: B(',"aname":'), apid: B(',"apid":'),
  args: B(',"args":'), cmdline: B(',"cmdline":'), createts: B(',"createts":'), entry: B(',"entry":'), exe: B(',"exe":'),
  gid: B(',"gid":'), group: B(',"group":'), name: B(',"name":'), poid: B(',"oid":'), ppid: B(',"pid":'), tid: B(',"tid":'),
  tty: B(',"tty":'), uid: B(',"uid":'), user: B(',"user":'),
  policies: B(',"policies":['), tags: B(',"tags":['),
  close: B('}'), endLine: B('}\n'), comma: B(','), lbr: B('['), rbr: B(']'), emptyList: B('[]'),
  t: B('true'), f: B('false'), zero: B('0'), emptyStr: B('""'), na: B('"NA"'), dot: B('"."'),
};

export function strList(out: ByteSink, xs: readonly string[]): void {
  out.bytes(K.lbr);
  for (let i = 0; i < xs.length; i++) {
    if (i) out.bytes(K.comma);
    out.goJsonString(xs[i]!);
  }
  out.bytes(K.rbr);
}

export function bool(out: ByteSink, v: boolean | undefined): void {
  out.bytes(v ? K.t : K.f);
}
