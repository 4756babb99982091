'use strict';
// The compiled addon; built by `node-gyp rebuild` when npm installs this package.
module.exports = require('./build/Release/unixpacket.node');
