/**
 * In-memory SysFlow records, as every decoder in this project produces them, whatever the writer
 * schema of the input (v1000 … v5 and the legacy layouts are normalised to these shapes).
 *
 * Conventions:
 *  - `sfType` is the record type, numbered as the current (v4/v5) union order.
 *  - Avro `int`/`long` are numbers. Timestamps and OID createTS can exceed 2^53: they are stored as
 *    the nearest double plus a companion `…Ns` field with the exact value mod 1e9 (core/util/i64.ts).
 *  - Enums are symbol strings; FOIDs are 40-char lowercase hex strings.
 *  - A field the writer schema does not have is `undefined` (upstream prints such fields as '').
 */

export const SfType = {
  H: 0,
  C: 1,
  P: 2,
  F: 3,
  PE: 4,
  NF: 5,
  FF: 6,
  FE: 7,
  NE: 8,
  PF: 9,
  POD: 10,
  KE: 11,
} as const;
export type SfType = (typeof SfType)[keyof typeof SfType];

/** Short codes by SfType, as sysprint prints them. */
export const SF_TYPE_CODES = ['H', 'C', 'P', 'F', 'PE', 'NF', 'FF', 'FE', 'NE', 'PF', 'POD', 'KE'] as const;
export type SfTypeCode = (typeof SF_TYPE_CODES)[number];

/** Full Avro record names by SfType (current schema). */
export const SF_TYPE_NAMES = [
  'sysflow.entity.SFHeader',
  'sysflow.entity.Container',
  'sysflow.entity.Process',
  'sysflow.entity.File',
  'sysflow.event.ProcessEvent',
  'sysflow.flow.NetworkFlow',
  'sysflow.flow.FileFlow',
  'sysflow.event.FileEvent',
  'sysflow.event.NetworkEvent',
  'sysflow.flow.ProcessFlow',
  'sysflow.entity.Pod',
  'sysflow.event.K8sEvent',
] as const;

export type SFObjectState = 'CREATED' | 'MODIFIED' | 'REUP';

export interface OID {
  createTS: number;
  createTSNs: number;
  hpid: number;
}

export interface SFHeader {
  sfType: 0;
  version: number;
  exporter: string;
  ip: string | undefined;
  filename: string | undefined;
}

export interface Container {
  sfType: 1;
  id: string;
  name: string;
  image: string;
  imageid: string;
  type: string;
  privileged: boolean | undefined;
  podId: string | null | undefined;
}

export interface Process {
  sfType: 2;
  state: SFObjectState;
  oid: OID;
  poid: OID | null;
  ts: number;
  tsNs: number;
  exe: string;
  exeArgs: string;
  uid: number;
  userName: string;
  gid: number;
  groupName: string;
  tty: boolean | undefined;
  containerId: string | null;
  entry: boolean | undefined;
  cwd: string | undefined;
  env: string[] | undefined;
}

export interface File {
  sfType: 3;
  state: SFObjectState;
  oid: string;
  ts: number;
  tsNs: number;
  restype: number;
  path: string;
  containerId: string | null;
}

export interface ProcessEvent {
  sfType: 4;
  procOID: OID;
  ts: number;
  tsNs: number;
  tid: number;
  opFlags: number;
  args: string[];
  ret: number;
}

export interface NetworkFlow {
  sfType: 5;
  procOID: OID;
  ts: number;
  tsNs: number;
  tid: number;
  opFlags: number;
  endTs: number;
  endTsNs: number;
  sip: number;
  sport: number;
  dip: number;
  dport: number;
  proto: number;
  fd: number | undefined;
  numRRecvOps: number;
  numWSendOps: number;
  numRRecvBytes: number;
  numWSendBytes: number;
}

export interface FileFlow {
  sfType: 6;
  procOID: OID;
  ts: number;
  tsNs: number;
  tid: number;
  opFlags: number;
  openFlags: number | undefined;
  endTs: number;
  endTsNs: number;
  fileOID: string;
  fd: number;
  numRRecvOps: number;
  numWSendOps: number;
  numRRecvBytes: number;
  numWSendBytes: number;
}

export interface FileEvent {
  sfType: 7;
  procOID: OID;
  ts: number;
  tsNs: number;
  tid: number;
  opFlags: number;
  fileOID: string;
  ret: number;
  newFileOID: string | null;
}

export interface NetworkEvent {
  sfType: 8;
  procOID: OID;
  ts: number;
  tsNs: number;
  tid: number;
  opFlags: number;
  sip: number;
  sport: number;
  dip: number;
  dport: number;
  proto: number;
  ret: number;
}

export interface ProcessFlow {
  sfType: 9;
  procOID: OID;
  ts: number;
  tsNs: number;
  numThreadsCloned: number;
  opFlags: number;
  endTs: number;
  endTsNs: number;
  numThreadsExited: number;
  numCloneErrors: number;
}

export interface Port {
  port: number;
  targetPort: number;
  nodePort: number;
  proto: string;
}

export interface Service {
  name: string;
  id: string;
  namespace: string;
  portList: Port[];
  clusterIP: number[];
}

export interface Pod {
  sfType: 10;
  ts: number;
  tsNs: number;
  id: string;
  name: string;
  nodeName: string;
  hostIP: number[];
  internalIP: number[];
  namespace: string;
  restartCount: number;
  labels: Record<string, string>;
  selectors: Record<string, string>;
  services: Service[];
}

export interface K8sEvent {
  sfType: 11;
  kind: string;
  action: string;
  ts: number;
  tsNs: number;
  message: string;
}

export type SysFlowEntity = SFHeader | Container | Process | File | Pod;
export type SysFlowEvent = ProcessEvent | NetworkFlow | FileFlow | FileEvent | NetworkEvent | ProcessFlow | K8sEvent;
export type SysFlowRecord = SysFlowEntity | SysFlowEvent;

/** Records that carry a process reference. */
export type ProcessRecord = ProcessEvent | NetworkFlow | FileFlow | FileEvent | NetworkEvent | ProcessFlow;

export const CONTAINER_TYPES = ['CT_DOCKER', 'CT_LXC', 'CT_LIBVIRT_LXC', 'CT_MESOS', 'CT_RKT', 'CT_CUSTOM', 'CT_CRI', 'CT_CONTAINERD', 'CT_CRIO', 'CT_BPM'] as const;
export const OBJECT_STATES = ['CREATED', 'MODIFIED', 'REUP'] as const;
export const K8S_COMPONENTS = [
  'K8S_NODES',
  'K8S_NAMESPACES',
  'K8S_PODS',
  'K8S_REPLICATIONCONTROLLERS',
  'K8S_SERVICES',
  'K8S_EVENTS',
  'K8S_REPLICASETS',
  'K8S_DAEMONSETS',
  'K8S_DEPLOYMENTS',
  'K8S_UNKNOWN',
] as const;
export const K8S_ACTIONS = ['K8S_COMPONENT_ADDED', 'K8S_COMPONENT_MODIFIED', 'K8S_COMPONENT_DELETED', 'K8S_COMPONENT_ERROR', 'K8S_COMPONENT_NONEXISTENT', 'K8S_COMPONENT_UNKNOWN'] as const;
