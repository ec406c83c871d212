import { after, before, it } from 'node:test';
import { ensureKafka } from '../helpers/kafka-broker.js';
import { replayScenario } from '../helpers/replay-scenario.js';
import { tempDir } from '../helpers/temp-dir.js';

const tmp = tempDir('kafka-replay');
let brokers = '';
before(async () => {
  brokers = await ensureKafka();
});
after(() => tmp.cleanup());

it('kafka log: tsdb replay --from earliest and a wiped data directory both rebuild byte-identical answers', async () => {
  await replayScenario(tmp.dir, ['--log', 'kafka', '--kafka-brokers', brokers, '--topic', `v3-replay-${Date.now()}`, '--partitions', '4']);
});
