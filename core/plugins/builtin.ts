/** Registers the built-in plugins, through the same registry calls that plugins use. */
import { Registry } from './registry.js';
import { flattenerHandler } from '../flatten/flattener.js';
import { readerFactory } from '../processors/reader.js';
import { policyEngineFactory } from '../processors/policyengine.js';
import { exporterFactory } from '../processors/exporter.js';
import { subscriptionsFactory } from '../processors/subscriptions.js';
import { captureActionFactory } from '../capture/action.js';
import { JsonEncoder } from '../export/encoders/json.js';
import { EcsEncoder } from '../export/encoders/ecs.js';
import { CefEncoder } from '../export/encoders/cef.js';
import { templateEncoder } from '../export/encoders/template.js';
import { fileTransport } from '../export/transports/file.js';
import { nullTransport } from '../export/transports/null.js';
import { terminalTransport } from '../export/transports/terminal.js';
import { syslogTransport } from '../export/transports/syslog.js';
import { esTransport } from '../export/transports/es.js';
import { fileDriver } from '../drivers/file.js';
import { socketDriver } from '../drivers/socket.js';
import { JSON_SCHEMA_VERSION, ECS_VERSION, VERSION } from '../version.js';

export function builtinRegistry(): Registry {
  const r = new Registry();
  r.channels.add({ name: 'sysflowchan', element: 'decoded SysFlow record (core/sysflow/types.ts)' });
  r.channels.add({ name: 'flattenerchan', element: 'FlatRecord (core/flatten/flatrecord.ts)' });
  r.channels.add({ name: 'eventchan', element: 'FlatRecord with policy results' });
  r.encoders.add({ name: 'json', create: (attrs) => new JsonEncoder(attrs.jsonschemaversion ?? String(JSON_SCHEMA_VERSION)) });
  r.encoders.add(templateEncoder);
  r.encoders.add({ name: 'cef', create: (attrs) => new CefEncoder(attrs.version ?? VERSION) });
  r.encoders.add({ name: 'ecs', create: (attrs) => new EcsEncoder(attrs.version ?? VERSION, attrs.ecsversion ?? ECS_VERSION) });
  r.transports.add(terminalTransport);
  r.transports.add(fileTransport);
  r.transports.add(nullTransport);
  r.transports.add(syslogTransport);
  r.transports.add(esTransport);
  r.actions.add(captureActionFactory);
  r.drivers.add(fileDriver);
  r.drivers.add(socketDriver);
  // processors last: the exporter lists the encoders and transports in its attribute help
  r.handlers.add(flattenerHandler);
  r.processors.add(readerFactory(r.handlers));
  r.processors.add(policyEngineFactory(r.actions));
  r.processors.add(exporterFactory(r));
  r.processors.add(subscriptionsFactory);
  return r;
}
