"""jpegli with its adaptive quantization off, through the C API its wheel already ships.

pyjpegli's ``encode`` takes a quality and nothing else: jpegli's defaults, adaptive
quantization (AQ) on. At equal SSIMULACRA2 against the on-the-fly anchor, AQ off needs 2-21 %
fewer bytes on every photo and width measured (bench/bench_anchor.py, docs/image-urls.md).
pyjpegli's extension module exports jpegli's whole libjpeg-style API (``jpegli_*``, the
libjpeg 6.2 ABI), so this module calls it with cffi in ABI mode: no compiler, no other wheel.

The declarations below are libjpeg 6.2's ``jpeg_compress_struct`` and ``jpeg_error_mgr`` with
every pointer this module never dereferences written as ``void *`` (same size and alignment on
LP64: x86_64 and the Lambda's arm64). jpegli checks the struct size it is handed against its
own (``jpegli_CreateCompress``), so a layout that drifted with a new pyjpegli is refused, not
misread; pyjpegli is pinned, and the tests encode through this module.

Errors: jpegli reports a misuse through ``error_exit``, which must not return, and Python
cannot unwind C frames. So every argument is checked here first, and ``error_exit`` stays
jpegli's default (print the message, end the process), as in a C tool: what is left to reach
it is running out of memory, which ends a Lambda invocation anyway.
"""
from __future__ import annotations

import functools

JCS_RGB = 2
LIB_VERSION = 62           # the libjpeg ABI jpegli is built for
MAX_DIMENSION = 65500      # JPEG's own limit on a side
CDEF = """
typedef struct {
  void (*error_exit)(void *); void *emit_message; void *output_message;
  void *format_message; void *reset_error_mgr;
  int msg_code; union { int i[8]; char s[80]; } msg_parm;
  int trace_level; long num_warnings;
  void *jpeg_message_table; int last_jpeg_message;
  void *addon_message_table; int first_addon_message; int last_addon_message;
} jpeg_error_mgr;
typedef struct {
  jpeg_error_mgr *err; void *mem; void *progress; void *client_data;
  int is_decompressor; int global_state;
  void *dest;
  unsigned int image_width; unsigned int image_height;
  int input_components; int in_color_space;
  double input_gamma;
  int data_precision; int num_components; int jpeg_color_space;
  void *comp_info;
  void *quant_tbl_ptrs[4]; void *dc_huff_tbl_ptrs[4]; void *ac_huff_tbl_ptrs[4];
  unsigned char arith_dc_L[16]; unsigned char arith_dc_U[16]; unsigned char arith_ac_K[16];
  int num_scans; void *scan_info;
  int raw_data_in; int arith_code; int optimize_coding; int CCIR601_sampling;
  int smoothing_factor; int dct_method;
  unsigned int restart_interval; int restart_in_rows;
  int write_JFIF_header;
  unsigned char JFIF_major_version; unsigned char JFIF_minor_version;
  unsigned char density_unit; unsigned short X_density; unsigned short Y_density;
  int write_Adobe_marker;
  unsigned int next_scanline;
  int progressive_mode; int max_h_samp_factor; int max_v_samp_factor;
  unsigned int total_iMCU_rows; int comps_in_scan; void *cur_comp_info[4];
  unsigned int MCUs_per_row; unsigned int MCU_rows_in_scan; int blocks_in_MCU;
  int MCU_membership[10];
  int Ss; int Se; int Ah; int Al;
  void *master; void *main; void *prep; void *coef; void *marker; void *cconvert;
  void *downsample; void *fdct; void *entropy;
  void *script_space; int script_space_size;
} jpeg_compress_struct;
jpeg_error_mgr *jpegli_std_error(jpeg_error_mgr *err);
void jpegli_CreateCompress(jpeg_compress_struct *cinfo, int version, size_t structsize);
void jpegli_set_defaults(jpeg_compress_struct *cinfo);
void jpegli_set_quality(jpeg_compress_struct *cinfo, int quality, int force_baseline);
void jpegli_enable_adaptive_quantization(jpeg_compress_struct *cinfo, int value);
void jpegli_mem_dest(jpeg_compress_struct *cinfo, unsigned char **outbuffer,
                     unsigned long *outsize);
void jpegli_start_compress(jpeg_compress_struct *cinfo, int write_all_tables);
unsigned int jpegli_write_scanlines(jpeg_compress_struct *cinfo, unsigned char **rows,
                                    unsigned int num_lines);
void jpegli_finish_compress(jpeg_compress_struct *cinfo);
void jpegli_destroy_compress(jpeg_compress_struct *cinfo);
void free(void *ptr);
"""


@functools.cache
def _api():
    """(ffi, jpegli, libc): loaded once per process, on the first JPEG (parsing the
    declarations costs ~40 ms of CPU, once)."""
    import cffi
    import pyjpegli  # the extension module is the library: loading it first is the import

    ffi = cffi.FFI()
    ffi.cdef(CDEF)
    return ffi, ffi.dlopen(pyjpegli.__file__), ffi.dlopen(None)


def encode(rgb: bytes, width: int, height: int, quality: int, *,
           adaptive_quantization: bool = False) -> bytes:
    """Packed 8-bit RGB (``width * height * 3`` bytes) as a baseline JPEG from jpegli at
    ``quality`` (jpegli's own 1..100 mapping, as pyjpegli's), 4:2:0 like its defaults."""
    if not (1 <= width <= MAX_DIMENSION and 1 <= height <= MAX_DIMENSION):
        raise ValueError(f"jpegli: {width}x{height} is outside 1..{MAX_DIMENSION} a side")
    if not 1 <= quality <= 100:
        raise ValueError(f"jpegli: quality must be in 1..100 (got {quality})")
    if len(rgb) != width * height * 3:
        raise ValueError(f"jpegli: {len(rgb)} bytes is not {width}x{height} packed RGB")
    ffi, lib, libc = _api()
    cinfo = ffi.new("jpeg_compress_struct *")
    err = ffi.new("jpeg_error_mgr *")
    out = ffi.new("unsigned char **")
    size = ffi.new("unsigned long *")
    pixels = ffi.from_buffer(rgb)
    rows = ffi.new("unsigned char *[]", [pixels + y * width * 3 for y in range(height)])
    cinfo.err = lib.jpegli_std_error(err)
    lib.jpegli_CreateCompress(cinfo, LIB_VERSION, ffi.sizeof("jpeg_compress_struct"))
    try:
        lib.jpegli_mem_dest(cinfo, out, size)
        cinfo.image_width, cinfo.image_height = width, height
        cinfo.input_components, cinfo.in_color_space = 3, JCS_RGB
        lib.jpegli_set_defaults(cinfo)
        lib.jpegli_set_quality(cinfo, quality, 1)
        lib.jpegli_enable_adaptive_quantization(cinfo, int(adaptive_quantization))
        lib.jpegli_start_compress(cinfo, 1)
        written = lib.jpegli_write_scanlines(cinfo, rows, height)
        lib.jpegli_finish_compress(cinfo)
        if written != height:
            raise RuntimeError(f"jpegli took {written} of {height} rows")
        return bytes(ffi.buffer(out[0], size[0]))
    finally:
        lib.jpegli_destroy_compress(cinfo)
        if out[0] != ffi.NULL:
            libc.free(out[0])
