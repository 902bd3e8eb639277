import { Queue } from 'multiproc';
const q2 = new Queue({ capacityBytes: 64 * 1024 });
console.log('maxInline', q2.core.ring.maxInline, 'cells', q2.core.ring.cells);
const t = setTimeout(() => { console.log('stuck; size', q2.qsize()); process.exit(1); }, 3000);
const n = await q2.putMany(Array.from({ length: 300 }, (_, i) => ({ i })));
console.log('putMany ->', n, q2.qsize());
const got = await q2.getMany(2000); console.log('getMany', got.length, got[got.length-1]);
clearTimeout(t); q2.close();
