/** The ECS encoder's fixed byte strings: keys with their punctuation, in document order. */
export const B = (s: string) => Buffer.from(s, 'utf8');

export const K = {
  ts: B('{"@timestamp":'),
  host: B(',"host":{"id":'), hostIp: B(',"ip":'),
  end: B(',"end":'), kindEvent: B(',"kind":"event"'), kindAlert: B(',"kind":"alert"'), original: B(',"original":'),
  reason: B(',"reason":'), severity: B(',"severity":'), sfRet: B(',"sf_ret":'),
  close: B('}'), endLine: B('}\n'), comma: B(','), lbr: B('['), rbr: B(']'),
  t: B('true'), f: B('false'), na: B('"NA"'),
  fileDir: B(',"file":{"directory":'), fileName: B(',"name":'), filePath: B(',"path":'), fileTarget: B(',"target_path":'), fileType: B(',"type":'),
  fileAction: B(',"sf_file_action":{"bytes_read":'), bytesWritten: B(',"bytes_written":'), readOps: B(',"read_ops":'), writeOps: B(',"write_ops":'),
  network: B(',"network":{"bytes":'), netNoBytes: B(',"network":{'), cid: B(',"community_id":'), cidFirst: B('"community_id":'),
  iana: B(',"iana_number":"'), protocol: B('","protocol":'),
  source: B(',"source":{"address":'), destination: B(',"destination":{"address":'), epBytes: B(',"bytes":'), epIp: B(',"ip":'),
  epPackets: B(',"packets":'), epPort: B(',"port":'),
  procHead: B(',"process":{"args":'), cmdline: B(',"command_line":'), exe: B(',"executable":'), name: B(',"name":'),
  parent: B(',"parent":{"args":'), pid: B(',"pid":'), pstart: B(',"start":'), parentEnd: B('},"pid":'), threadId: B(',"thread":{"id":'),
  procTail: B('}}'),
  user: B(',"user":{"group":{"id":'), userId: B('},"id":'), tags: B(',"tags":['),
  orchestrator: B(',"orchestrator":{"namespace":'), resource: B(',"resource":{"name":'), resType: B(',"type":'), k8s: B('},"type":"kubernetes"}'),
};
