import { Queue, JoinableQueue, SimpleQueue, Empty, Full, ShutDown, fromHandle } from 'multiproc';
const q = new Queue({ maxsize: 3 });
await q.put({ a: 1 }); q.putSync([1, 2]); q.putNowait('x');
console.log('qsize', q.qsize(), 'full', q.full());
try { q.putNowait(4); } catch (e) { console.log('putNowait full ->', e.constructor.name); }
try { await q.put(4, { timeout: 20 }); } catch (e) { console.log('put timeout ->', e.constructor.name); }
console.log(await q.get(), q.getSync(), q.getNowait());
try { q.getNowait(); } catch (e) { console.log('getNowait ->', e.constructor.name); }
try { await q.get({ timeout: 20 }); } catch (e) { console.log('get timeout ->', e.constructor.name); }
await q.putBytes(Buffer.from('hello'));
await q.put({ o: 1 });
console.log('getBytes', (await q.getBytes()).toString());
try { await q.getBytes(); } catch (e) { console.log('getBytes of object ->', e.constructor.name, e.message, 'qsize', q.qsize()); }
console.log('get object', await q.get());
// big message
const big = Buffer.alloc(3 << 20, 7);
const q2 = new Queue({ capacityBytes: 64 * 1024 });
await q2.putBytes(big); await q2.put({ after: true }); await q2.put({ arr: new Array(100000).fill(1) });
const b = await q2.getBytes(); console.log('big bytes', b.length, b[100], 'then', await q2.get(), (await q2.get()).arr.length);
// many
await q2.putMany(Array.from({ length: 300 }, (_, i) => ({ i })));
const got = await q2.getMany(2000); console.log('getMany', got.length, got[299]);
// handle
const h = q2.toHandle(); console.log(h); const q3 = fromHandle(h); await q3.put('via handle'); console.log(await q2.get());
// shutdown
q2.shutdown(); try { await q2.put(1); } catch (e) { console.log('put after shutdown ->', e.constructor.name); }
try { await q2.get(); } catch (e) { console.log('get after shutdown ->', e.constructor.name); }
const jq = new JoinableQueue(); await jq.put(1); await jq.put(2);
setTimeout(async () => { await jq.get(); jq.taskDone(); await jq.get(); jq.taskDone(); }, 30);
console.log('join', await jq.join({ timeout: 2000 }));
try { jq.taskDone(); } catch (e) { console.log('taskDone too often ->', e.constructor.name); }
const sq = new SimpleQueue(); await sq.put({ s: 1 }); console.log('simple', await sq.get(), sq.empty());
for (const x of [q, q2, q3, jq, sq]) x.close();
try { q.qsize(); } catch (e) { console.log('after close ->', e.constructor.name); }
const fs = await import('node:fs'); console.log('left in shm', fs.readdirSync('/dev/shm').filter(n => n.startsWith('mp-')));
