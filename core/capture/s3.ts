/**
 * Uploading finished captures to S3-compatible storage (pcapdaemon's S3 upload): the pcap file and
 * its sidecar, under `<folder>/<file>`. The request's bucket, folder, acl and encryption apply;
 * its endpoint and region only where the operator allows it (`s3.requestendpoint`), since they
 * decide where this node's credentials sign requests to.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { type ObjectCannedACL, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { CaptureJob } from './request.js';
import type { Uploader } from './service.js';

export interface S3Settings {
  readonly endpoint?: string;
  readonly region: string;
  readonly bucket: string;
  readonly folder: string;
  readonly accessId?: string;
  readonly accessKey?: string;
  readonly acl?: string;
  readonly encryption: boolean;
  /** Whether requests may name their own endpoint and region. */
  readonly requestEndpoint: boolean;
}

const key = (folder: string, file: string) => {
  const f = folder.replace(/^\/+|\/+$/g, '');
  return f ? `${f}/${file}` : file;
};

export function s3Uploader(s: S3Settings, node: string): Uploader {
  const clients = new Map<string, S3Client>();
  const client = (endpoint: string | undefined, region: string) => {
    const id = `${endpoint ?? ''}\0${region}`;
    let c = clients.get(id);
    if (!c) {
      c = new S3Client({
        region,
        ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
        ...(s.accessId && s.accessKey ? { credentials: { accessKeyId: s.accessId, secretAccessKey: s.accessKey } } : {}),
        maxAttempts: 3,
      });
      clients.set(id, c);
    }
    return c;
  };
  return async (pcapPath: string, sidecarPath: string, job: CaptureJob) => {
    const u = job.upload;
    const bucket = u.bucket || s.bucket;
    const folder = u.folder ?? s.folder;
    const endpoint = (s.requestEndpoint && u.endpoint) || s.endpoint;
    const region = (s.requestEndpoint && u.region) || s.region;
    const acl = (u.acl || s.acl) as ObjectCannedACL | undefined;
    const encryption = u.encryption ?? s.encryption;
    const c = client(endpoint, region);
    const file = basename(pcapPath);
    const k = key(folder, file);
    const meta = { node, interface: job.iface, alertid: String(job.alertid ?? '') };
    const put = (Key: string, path: string, ContentType: string) =>
      c.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key,
          Body: readFileSync(path),
          ContentType,
          Metadata: meta,
          ...(acl ? { ACL: acl } : {}),
          ...(encryption ? { ServerSideEncryption: 'AES256' as const } : {}),
        }),
      );
    await put(k, pcapPath, 'application/vnd.tcpdump.pcap');
    await put(k.replace(/\.pcap$/, '.json'), sidecarPath, 'application/json');
    return `s3://${bucket}/${k}`;
  };
}
