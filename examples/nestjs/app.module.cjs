// The NestJS app, in plain JavaScript (decorators applied by hand, so the example needs no build).
// GET / answers with the pid; GET /slow?ms=N answers after N ms.
require('reflect-metadata');
const { Controller, Get, Module, Query } = require('@nestjs/common');

class AppController {
  root() {
    return { pid: process.pid, worker: process.env.WARDEN_WORKER_ID ?? null };
  }

  async slow(ms) {
    await new Promise((resolve) => setTimeout(resolve, Number(ms ?? 0)));
    return { pid: process.pid, worker: process.env.WARDEN_WORKER_ID ?? null };
  }
}
const method = (name) => Object.getOwnPropertyDescriptor(AppController.prototype, name);
Controller()(AppController);
Get()(AppController.prototype, 'root', method('root'));
Get('slow')(AppController.prototype, 'slow', method('slow'));
Query('ms')(AppController.prototype, 'slow', 0);

class AppModule {}
Module({ controllers: [AppController] })(AppModule);

module.exports = { AppModule };
