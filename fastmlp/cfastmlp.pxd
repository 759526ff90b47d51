# cfastmlp.pxd - Cython declarations of the public C API (csrc/fastmlp.h).
#
# Other Cython extensions can use the C core directly:
#
#     from fastmlp.cfastmlp cimport fm_gemm_f64
#
# and compile with include_dirs=[fastmlp.get_include()] (see the README).
# Every declaration mirrors fastmlp.h one to one; read the header for the
# contract of each function.

from libc.stdint cimport int64_t, uint64_t


cdef extern from "fastmlp.h" nogil:
    ctypedef enum fm_status_t:
        FM_OK
        FM_ERR_NOMEM
        FM_ERR_ARG
        FM_ERR_SHAPE
        FM_ERR_NONFINITE
        FM_ERR_NODERIV
        FM_ERR_ISA
        FM_ERR_IO
        FM_ERR_FORMAT
        FM_ERR_VERSION
        FM_ERR_CHECKSUM
        FM_ERR_INTERRUPTED
        FM_ERR_LOSS_PAIR

    const char *fm_strerror(int status)
    const char *fm_version()

    ctypedef int fm_isa_t
    fm_isa_t fm_isa_detected()
    fm_isa_t fm_isa_active()
    int fm_isa_set(fm_isa_t isa)
    const char *fm_isa_name(fm_isa_t isa)
    int fm_isa_parse(const char *name)
    int fm_get_num_threads()
    int fm_set_num_threads(int n)
    int fm_has_openmp()

    int fm_gemm_f32(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K,
                    float alpha, const float *A, int64_t lda, const float *B,
                    int64_t ldb, float beta, float *C, int64_t ldc)
    int fm_gemm_f64(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K,
                    double alpha, const double *A, int64_t lda, const double *B,
                    int64_t ldb, double beta, double *C, int64_t ldc)

    int fm_all_finite_f32(int64_t n, const float *x)
    int fm_all_finite_f64(int64_t n, const double *x)

    ctypedef int fm_act_t
    int fm_act_needs_z(fm_act_t act)
    int fm_act_is_flat(fm_act_t act)
    int fm_act_forward_f32(fm_act_t act, double param, int64_t rows, int64_t cols,
                           const float *Z, int64_t ldz, float *A, int64_t lda)
    int fm_act_forward_f64(fm_act_t act, double param, int64_t rows, int64_t cols,
                           const double *Z, int64_t ldz, double *A, int64_t lda)
    int fm_act_backward_f32(fm_act_t act, double param, int64_t rows, int64_t cols,
                            const float *Z, const float *A, const float *dA, float *dZ)
    int fm_act_backward_f64(fm_act_t act, double param, int64_t rows, int64_t cols,
                            const double *Z, const double *A, const double *dA,
                            double *dZ)

    ctypedef int fm_loss_t
    int fm_loss_check_pair(fm_loss_t loss, fm_act_t out_act)
    int fm_loss_f32(fm_loss_t loss, fm_act_t out_act, double act_param, int64_t n,
                    int64_t k, const float *Z, const float *A, const float *Y,
                    const float *sw, double *value, float *dZ)
    int fm_loss_f64(fm_loss_t loss, fm_act_t out_act, double act_param, int64_t n,
                    int64_t k, const double *Z, const double *A, const double *Y,
                    const double *sw, double *value, double *dZ)

    int fm_dense_forward_f32(float *Z, float *A, const float *X, int64_t ldx,
                             const float *W, const float *b, int64_t n,
                             int64_t n_in, int64_t n_out, fm_act_t act,
                             double act_param)
    int fm_dense_forward_f64(double *Z, double *A, const double *X, int64_t ldx,
                             const double *W, const double *b, int64_t n,
                             int64_t n_in, int64_t n_out, fm_act_t act,
                             double act_param)
    int fm_dense_backward_f32(float *dW, float *db, float *dX, const float *dZ,
                              const float *X, int64_t ldx, const float *W,
                              int64_t n, int64_t n_in, int64_t n_out)
    int fm_dense_backward_f64(double *dW, double *db, double *dX, const double *dZ,
                              const double *X, int64_t ldx, const double *W,
                              int64_t n, int64_t n_in, int64_t n_out)

    ctypedef int fm_opt_kind_t
    ctypedef struct fm_optim_t:
        fm_opt_kind_t kind
        double lr
        double momentum
        double beta1
        double beta2
        double eps
        double weight_decay
        int nesterov
        int eps_inside_sqrt
    int fm_optim_defaults(fm_opt_kind_t kind, fm_optim_t *opt)
    int fm_optim_n_state(const fm_optim_t *opt)
    int fm_optim_step_f32(const fm_optim_t *opt, int64_t t, int64_t n, float *w,
                          const float *g, float *s1, float *s2, double l2,
                          double l1, double *abs_grad_sum)
    int fm_optim_step_f64(const fm_optim_t *opt, int64_t t, int64_t n, double *w,
                          const double *g, double *s1, double *s2, double l2,
                          double l1, double *abs_grad_sum)

    uint64_t fm_rng_u64(uint64_t key, uint64_t counter)
    uint64_t fm_rng_key(uint64_t seed, uint64_t stream)
    double fm_rng_uniform(uint64_t key, uint64_t counter)
    double fm_rng_normal(uint64_t key, uint64_t counter)

    ctypedef int fm_init_t
    int fm_init_layer_f32(fm_init_t init, uint64_t key, int64_t fan_in,
                          int64_t fan_out, int gain_sigmoid, float *W, float *b)
    int fm_init_layer_f64(fm_init_t init, uint64_t key, int64_t fan_in,
                          int64_t fan_out, int gain_sigmoid, double *W, double *b)
    int fm_dropout_forward_f32(double p, uint64_t key, uint64_t counter0,
                               int64_t rows, int64_t cols, float *A, float *mask)
    int fm_dropout_forward_f64(double p, uint64_t key, uint64_t counter0,
                               int64_t rows, int64_t cols, double *A, double *mask)

    ctypedef enum fm_dtype_t:
        FM_F32
        FM_F64

    ctypedef struct fm_layer_t:
        int64_t units
        fm_act_t act
        double act_param
        fm_init_t init
        double dropout

    ctypedef struct fm_net_t:
        pass

    fm_net_t *fm_net_create(fm_dtype_t dtype, int64_t n_in, int n_layers,
                            const fm_layer_t *layers, int *status)
    void fm_net_free(fm_net_t *net)
    fm_dtype_t fm_net_dtype(const fm_net_t *net)
    int64_t fm_net_n_in(const fm_net_t *net)
    int64_t fm_net_n_out(const fm_net_t *net)
    int fm_net_n_layers(const fm_net_t *net)
    const fm_layer_t *fm_net_layer(const fm_net_t *net, int l)
    int64_t fm_net_n_params(const fm_net_t *net)
    void *fm_net_params(fm_net_t *net)
    int64_t fm_net_weight_offset(const fm_net_t *net, int l)
    int64_t fm_net_bias_offset(const fm_net_t *net, int l)
    int fm_net_init(fm_net_t *net, uint64_t seed)
    int fm_net_predict(const fm_net_t *net, int64_t n, const void *X, int64_t ldx,
                       void *out)

    ctypedef struct fm_train_cfg_t:
        fm_loss_t loss
        fm_optim_t opt
        double l2
        double l1
        int64_t batch_size
        int shuffle
        uint64_t seed
        int (*should_stop)(void *ctx, int64_t batch) noexcept nogil
        void *ctx

    ctypedef struct fm_epoch_stats_t:
        double loss
        double penalty
        int64_t n_batches
        int64_t t
        double *grad_w
        double *grad_b

    int fm_net_train_step(fm_net_t *net, const fm_train_cfg_t *cfg, int64_t n,
                          const void *X, const void *Y, const void *sw,
                          fm_epoch_stats_t *stats)
    int fm_net_train_epoch(fm_net_t *net, const fm_train_cfg_t *cfg, int64_t n,
                           const void *X, const void *Y, const void *sw,
                           int64_t epoch, fm_epoch_stats_t *stats)
    int fm_net_evaluate(const fm_net_t *net, const fm_train_cfg_t *cfg, int64_t n,
                        const void *X, const void *Y, const void *sw,
                        double *loss, double *penalty)
    int fm_net_loss_grad(fm_net_t *net, const fm_train_cfg_t *cfg, int64_t n,
                         const void *X, const void *Y, const void *sw,
                         double *loss, void *grad)
    int64_t fm_net_step_count(const fm_net_t *net)
    int fm_net_set_step_count(fm_net_t *net, int64_t t)
    void *fm_net_opt_state(fm_net_t *net, int s)
    void fm_net_reset_optimizer(fm_net_t *net)

    int fm_model_save(const fm_net_t *net, const char *path, const void *mean,
                      const void *scale, const char *meta, size_t meta_len)
    int fm_model_load(const char *path, fm_net_t **net, void **mean, void **scale,
                      char **meta, size_t *meta_len)
    int fm_model_load_buffer(const void *buf, size_t len, fm_net_t **net,
                             void **mean, void **scale, char **meta,
                             size_t *meta_len)
