import { afterEach, describe, expect, it } from 'vitest';

import { ExecPlannerModel } from '../src/model';
import { isOver, nextPollDelay, phaseText } from '../src/model/session';
import {
  ASTRO,
  disposeAll,
  FakeServer,
  offer,
  OWN,
  session,
  track
} from './fixtures';
import { answer } from './fixtures';

afterEach(disposeAll);

/** Hubs own and astro answering YES with one new offer each at every ask; rejects recorded. */
function offeringServer(): FakeServer {
  let n = 0;
  const fake = new FakeServer()
    .on('GET', 'hubs', () => ({ hubs: [OWN, ASTRO] }))
    .on('POST', 'prepare', () => ({ request: { name: 'a' } }))
    .on('POST', 'ask', call => {
      const hub = (call.body as { hubs: string[] }).hubs[0];
      n += 1;
      const uuid = `${hub}-${n}`;
      fake.on('POST', `sessions/${hub}/${uuid}`, c =>
        session(
          (c.body as { action: string }).action === 'accept'
            ? 'ACCEPTED'
            : 'REJECTED',
          { hub, uuid }
        )
      );
      return {
        answers: [answer(hub, 'YES', { offers: [offer({ hub, uuid })] })]
      };
    });
  return fake;
}

function actions(fake: FakeServer, action: string): string[] {
  return fake.calls
    .filter(
      c =>
        c.method === 'POST' &&
        c.endPoint.startsWith('sessions/') &&
        (c.body as { action: string }).action === action
    )
    .map(c => c.endPoint)
    .sort();
}

async function asked(fake: FakeServer): Promise<ExecPlannerModel> {
  const model = track(new ExecPlannerModel(fake.request));
  model.path = 'a.ipynb';
  await model.hubs.load();
  model.hubs.setSelected('astro', true);
  expect(await model.ask()).toBe(true);
  return model;
}

describe('releasing offers no longer wanted', () => {
  it('a new Ask rejects the offers of the last one on every hub first', async () => {
    const fake = offeringServer();
    const model = await asked(fake);
    const first = model.answers.offers.map(o => `sessions/${o.hub}/${o.uuid}`);
    expect(first).toHaveLength(2);
    expect(actions(fake, 'reject')).toEqual([]);
    expect(await model.ask()).toBe(true);
    expect(actions(fake, 'reject')).toEqual(first.sort());
    // the rejects were sent before the new asks
    const lastReject = Math.max(
      ...fake.calls.map((c, k) => (c.endPoint.startsWith('sessions/') ? k : -1))
    );
    const firstNewAsk = fake.calls.findIndex(
      (c, i) => i > 4 && c.endPoint === 'ask'
    );
    expect(lastReject).toBeLessThan(firstNewAsk);
  });

  it('accepting one rejects the offers of the other hubs', async () => {
    const fake = offeringServer();
    const model = await asked(fake);
    const [mine] = model.answers.offers.filter(o => o.hub === 'astro');
    const [other] = model.answers.offers.filter(o => o.hub === 'own');
    expect(await model.accept(mine)).toBe(true);
    await new Promise(r => setTimeout(r, 0));
    expect(actions(fake, 'accept')).toEqual([`sessions/astro/${mine.uuid}`]);
    expect(actions(fake, 'reject')).toEqual([`sessions/own/${other.uuid}`]);
    expect(model.answers.offers).toEqual([]); // no live Accept buttons left
  });

  it('a bad form clears the last answers (and releases their offers)', async () => {
    const fake = offeringServer();
    const model = await asked(fake);
    model.form.setField('coresMin', '');
    expect(await model.ask()).toBe(false);
    expect(model.answers.rows).toEqual([]);
    await new Promise(r => setTimeout(r, 0));
    expect(actions(fake, 'reject')).toHaveLength(2);
  });

  it('removing a hub drops its answer and releases its offer while its token is there', async () => {
    const fake = offeringServer().on('DELETE', 'hubs/astro', () => undefined);
    const model = await asked(fake);
    const astro = model.answers.offers.find(o => o.hub === 'astro')!;
    await model.removeHub('astro');
    expect(model.answers.rows.map(r => r.hub)).toEqual(['own']);
    expect(model.answers.offers.map(o => o.hub)).toEqual(['own']);
    const reject = fake.calls.findIndex(
      c => c.endPoint === `sessions/astro/${astro.uuid}`
    );
    const remove = fake.calls.findIndex(c => c.method === 'DELETE');
    expect(reject).toBeGreaterThan(-1);
    expect(reject).toBeLessThan(remove);
  });
});

describe('ending a session', () => {
  it('asks first, and does nothing when the person keeps it', async () => {
    const fake = new FakeServer().on('POST', 'sessions/own/s-1', () =>
      session('CANCELLED', { stopping: true })
    );
    const model = track(new ExecPlannerModel(fake.request));
    const asks: string[] = [];
    let answer = false;
    model.confirmCancel = async s => {
      asks.push(s.hub);
      return answer;
    };
    model.follow(session('AVAILABLE'));
    expect(await model.cancel()).toBe(false);
    expect(fake.calls).toEqual([]);
    answer = true;
    expect(await model.cancel()).toBe(true);
    expect(asks).toEqual(['own', 'own']);
    const shown = model.progress.session!;
    expect(phaseText(shown)).toBe('stopping');
    expect(isOver(shown)).toBe(false);
    expect(model.progress.polling).toBe(true); // until the server is gone
  });

  it('is over, and polled no more, once its server is gone', () => {
    const stopping = session('CANCELLED', { stopping: true });
    const gone = session('CANCELLED', { stopping: false });
    expect(nextPollDelay(stopping)).not.toBeNull();
    expect(nextPollDelay(gone)).toBeNull();
    expect(phaseText(gone)).toBe('CANCELLED');
    expect(isOver(gone)).toBe(true);
  });
});
