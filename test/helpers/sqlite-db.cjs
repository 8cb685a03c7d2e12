// A SQLite file opened the way claw's store would on this Node: node:sqlite where the runtime has
// it (Node 22/24, where better-sqlite3 built for Node 20 cannot load), else better-sqlite3. For
// tests, the fakes and the bench that read or seed a database directly; better-sqlite3's small API.
'use strict';

function nodeSqlite() {
  if (!process.getBuiltinModule && Number(process.versions.node.split('.')[0]) < 22) return undefined;
  // Node 22 warns that node:sqlite is experimental: a fake CLI must keep stderr as the real one does.
  const emit = process.emitWarning;
  process.emitWarning = (warning, ...rest) => {
    if (String(warning).includes('SQLite')) return;
    emit.call(process, warning, ...rest);
  };
  try {
    return require('node:sqlite');
  } catch {
    return undefined;
  } finally {
    process.emitWarning = emit;
  }
}

class NodeDatabase {
  constructor(sqlite, file, options = {}) {
    if (options.fileMustExist && !require('node:fs').existsSync(file)) throw new Error(`unable to open database file: ${file}`);
    this.db = new sqlite.DatabaseSync(file, options.readonly ? { readOnly: true } : {});
  }
  prepare(sql) {
    return this.db.prepare(sql);
  }
  exec(sql) {
    this.db.exec(sql);
    return this;
  }
  pragma(source, options = {}) {
    const rows = this.db.prepare(`pragma ${source}`).all();
    return options.simple ? (rows[0] ? Object.values(rows[0])[0] : undefined) : rows;
  }
  close() {
    this.db.close();
  }
}

const sqlite = nodeSqlite();

/** `new Database(file, { readonly, fileMustExist })`, as with better-sqlite3. */
function Database(file, options) {
  if (sqlite) return new NodeDatabase(sqlite, file, options);
  const Better = require('better-sqlite3');
  return new Better(file, options);
}

module.exports = Database;
module.exports.default = Database;
module.exports.driver = sqlite ? 'node:sqlite' : 'better-sqlite3';
