'use strict';
// The compiled addon (node-gyp rebuild, run by npm install); see src/pcapcapture.c.
module.exports = require('./build/Release/pcapcapture.node');
