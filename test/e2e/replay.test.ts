import { after, it } from 'node:test';
import { replayScenario } from '../helpers/replay-scenario.js';
import { tempDir } from '../helpers/temp-dir.js';

const tmp = tempDir('replay');
after(() => tmp.cleanup());

it('embedded log: tsdb replay and a wiped store both rebuild byte-identical answers', async () => {
  await replayScenario(tmp.dir, ['--partitions', '4']);
});
