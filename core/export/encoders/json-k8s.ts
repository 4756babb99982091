/** The json encoder's container and pod sections, as sf-processor's JSON shapes them. */
import type { ByteSink } from '../../util/bytes.js';
import type { Container, Pod } from '../../sysflow/types.js';
import { containerTypeName } from '../../flatten/names.js';
import { ipStr } from '../../sysflow/flags.js';
import { K, strList } from './json-keys.js';

/** sf-processor's container section. */
export function writeContainer(c: Container, out: ByteSink): void {
  out.bytes(K.container);
  out.goJsonString(c.id);
  out.bytes(K.cimage);
  out.goJsonString(c.image);
  out.bytes(K.cimageid);
  out.goJsonString(c.imageid);
  out.bytes(K.cname);
  out.goJsonString(c.name);
  out.bytes(K.cpriv);
  out.number(c.privileged ? 1 : 0);
  out.bytes(K.ctype);
  out.goJsonString(containerTypeName(c.type));
  out.bytes(K.close);
}

/** sf-processor's pod section (with the commas its encoder left out between IPs and services). */
export function writePod(p: Pod, out: ByteSink): void {
  out.bytes(K.pod);
  strList(out, p.hostIP.map(ipStr));
  out.bytes(K.pid);
  out.goJsonString(p.id);
  out.bytes(K.internalip);
  strList(out, p.internalIP.map(ipStr));
  out.bytes(K.pname);
  out.goJsonString(p.name);
  out.bytes(K.pns);
  out.goJsonString(p.namespace);
  out.bytes(K.nodename);
  out.goJsonString(p.nodeName);
  out.bytes(K.restartcnt);
  out.number(p.restartCount);
  out.bytes(K.services);
  out.bytes(K.lbr);
  p.services.forEach((s, i) => {
    if (i) out.bytes(K.comma);
    out.ascii('{"id":');
    out.goJsonString(s.id);
    out.ascii(',"name":');
    out.goJsonString(s.name);
    out.ascii(',"namespace":');
    out.goJsonString(s.namespace);
    out.ascii(',"clusterIP":');
    strList(out, s.clusterIP.map(ipStr));
    out.ascii(',"ports":[');
    s.portList.forEach((pt, j) => {
      if (j) out.bytes(K.comma);
      out.ascii(`{"port":${pt.port},"targetport":${pt.targetPort},"nodeport":${pt.nodePort},"proto":`);
      out.goJsonString(pt.proto);
      out.ascii('}');
    });
    out.ascii(']}');
  });
  out.bytes(K.rbr);
  out.bytes(K.pts);
  out.exact(p.ts, p.tsNs);
  out.bytes(K.close);
}

/** Present when the process names a parent (pid ≠ 0); values from the cached parent, empty if not cached. */
