// Preloaded into a process that loads a function bundle: records every attempt to open a
// network connection or resolve a name, and prints how many there were when the process exits.
const net = require('node:net');
const dns = require('node:dns');
let attempts = 0;
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  attempts++;
  return connect.apply(this, args);
};
const lookup = dns.lookup;
dns.lookup = function (...args) {
  attempts++;
  return lookup.apply(this, args);
};
process.on('exit', () => process.stdout.write(`network attempts: ${attempts}\n`));
