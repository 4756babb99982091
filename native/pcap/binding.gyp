{
  "targets": [
    {
      "target_name": "pcapcapture",
      "sources": ["src/pcapcapture.c"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"],
      "libraries": ["-lpcap"]
    }
  ]
}
