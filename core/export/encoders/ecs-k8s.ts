/** The ECS encoder's Kubernetes and container sections: rendered once per entity (or K8s message) and copied afterwards. */
import type { ByteSink, Scratch } from '../../util/bytes.js';
import type { Container, Pod } from '../../sysflow/types.js';
import { containerTypeName } from '../../flatten/names.js';
import { ip } from '../../flatten/derive.js';
import { K } from './ecs-keys.js';
import { writeIso } from './go-time.js';
import { jsonText, parseJsonLenient } from './ecs-classes.js';

function ipList(out: ByteSink, ips: readonly number[]): void {
  out.bytes(K.lbr);
  for (let i = 0; i < ips.length; i++) {
    if (i) out.bytes(K.comma);
    out.goJsonString(ip(ips[i]!));
  }
  out.bytes(K.rbr);
}

/** The container section, rendered once per container object. */
export function renderContainer(s: Scratch, c: Container): Buffer {
  s.ascii(',"container":{"id":');
  s.goJsonString(c.id);
  if (c.imageid !== '') {
    s.ascii(',"image":{"id":');
    s.goJsonString(c.imageid);
    s.ascii(',"name":');
    s.goJsonString(c.image);
    s.ascii('}');
  }
  s.ascii(',"name":');
  s.goJsonString(c.name);
  s.ascii(',"runtime":');
  s.goJsonString(containerTypeName(c.type));
  s.ascii(',"sf_privileged":');
  s.bytes(c.privileged === true ? K.t : K.f);
  s.ascii('}');
  return s.take();
}

/** The orchestrator and pod sections, rendered once per pod object. */
export function renderPod(s: Scratch, p: Pod): Buffer {
  s.bytes(K.orchestrator);
  s.goJsonString(p.namespace);
  s.bytes(K.resource);
  s.goJsonString(p.name);
  s.ascii(',"type":"pod"');
  s.bytes(K.k8s);
  s.ascii(',"pod":{"hostip":');
  ipList(s, p.hostIP);
  s.ascii(',"id":');
  s.goJsonString(p.id);
  s.ascii(',"internalip":');
  ipList(s, p.internalIP);
  s.ascii(',"name":');
  s.goJsonString(p.name);
  s.ascii(',"namespace":');
  s.goJsonString(p.namespace);
  s.ascii(',"nodename":');
  s.goJsonString(p.nodeName);
  s.ascii(',"restartcnt":');
  s.number(p.restartCount);
  s.ascii(',"ts":');
  writeIso(s, p.ts, p.tsNs);
  s.ascii('}');
  if (p.services.length > 0) {
    s.ascii(',"service":[');
    for (let i = 0; i < p.services.length; i++) {
      const sv = p.services[i]!;
      if (i) s.bytes(K.comma);
      s.ascii('{"clusterip":');
      ipList(s, sv.clusterIP);
      s.ascii(',"id":');
      s.goJsonString(sv.id);
      s.ascii(',"name":');
      s.goJsonString(sv.name);
      s.ascii(',"namespace":');
      s.goJsonString(sv.namespace);
      s.ascii(',"ports":[');
      for (let j = 0; j < sv.portList.length; j++) {
        const pt = sv.portList[j]!;
        if (j) s.bytes(K.comma);
        s.ascii('{"nodeport":');
        s.number(pt.nodePort);
        s.ascii(',"port":');
        s.number(pt.port);
        s.ascii(',"proto":');
        s.goJsonString(pt.proto);
        s.ascii(',"targetport":');
        s.number(pt.targetPort);
        s.ascii('}');
      }
      s.ascii(']}');
    }
    s.ascii(']');
  }
  return s.take();
}

/** The orchestrator section of a K8s event, from its JSON message (kind, first item's namespace and name). */
export function renderKeOrchestrator(s: Scratch, message: string): Buffer {
  let ns = '';
  let name = '';
  let kind = '';
  const doc = parseJsonLenient(message);
  if (doc !== null && typeof doc === 'object') {
    const d = doc as { kind?: unknown; items?: unknown };
    kind = jsonText(d.kind).toLowerCase();
    const items = d.items;
    if (Array.isArray(items) && items.length > 0 && items[0] !== null && typeof items[0] === 'object') {
      const it = items[0] as { name?: unknown; namespace?: unknown };
      ns = jsonText(it.namespace);
      name = jsonText(it.name);
    }
  }
  s.bytes(K.orchestrator);
  s.goJsonString(ns);
  s.bytes(K.resource);
  s.goJsonString(name);
  s.bytes(K.resType);
  s.goJsonString(kind);
  s.bytes(K.k8s);
  return s.take();
}
