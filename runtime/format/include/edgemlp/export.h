/* EDGEMLP_API marks what libedgemlp.so exports. The runtime is compiled with
 * -fvisibility=hidden, so everything else (kernels, Highway's dispatch
 * tables, the blob reader's helpers) stays private and can change without
 * breaking programs linked against the shared library. C and C++. */
#ifndef EDGEMLP_EXPORT_H_
#define EDGEMLP_EXPORT_H_

#if defined(__GNUC__) || defined(__clang__)
#define EDGEMLP_API __attribute__((visibility("default")))
#else
#define EDGEMLP_API
#endif

#endif  /* EDGEMLP_EXPORT_H_ */
