/**
 * `now`: a policy action, as in sf-processor's action example. A rule that lists it
 * (`actions: [now]`) tags every record it matches with the current time in nanoseconds since the
 * epoch: `now_in_nanos:1645409122055957900`. `now.tag` changes the tag's name.
 *
 * Only types are imported, so the compiled now.js runs from any -plugdir.
 */
import type { ActionPlugin } from 'sfprocessor/plugin';

interface NowConfig {
  readonly 'now.tag': string;
}

export default {
  kind: 'action',
  name: 'now',
  version: '1.0.0',
  description: "tags matching records with '<now.tag>:<unix time in ns>'",
  config: {
    properties: {
      'now.tag': { type: 'string', pattern: '^[^:]+$', default: 'now_in_nanos', description: "tag name, before ':' (default now_in_nanos)" },
    },
  },
  create(ctx) {
    const prefix = `${ctx.config['now.tag']}:`;
    // Date.now() has milliseconds only: anchor the monotonic ns clock to the epoch once
    const epochNs = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
    return (record) => {
      record.addTag(prefix + String(epochNs + process.hrtime.bigint()));
    };
  },
} satisfies ActionPlugin<NowConfig>;
