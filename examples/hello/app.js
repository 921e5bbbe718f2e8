// The bundled example: a plain node:http request listener, served by `npm start` on two workers.
// Every answer names the worker that served it, so you can watch warden spread the load.
export default function hello(req, res) {
  if (req.url === '/slow') {
    setTimeout(() => res.end(`slow hello from worker ${process.env.WARDEN_WORKER_ID} (pid ${process.pid})\n`), 2000);
    return;
  }
  res.setHeader('content-type', 'text/plain; charset=utf-8');
  res.end(`hello from worker ${process.env.WARDEN_WORKER_ID} of ${process.env.WARDEN_WORKER_COUNT} (pid ${process.pid})\n`);
}
