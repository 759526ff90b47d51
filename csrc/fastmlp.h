/*
 * fastmlp.h - the one public header of the fastmlp C library.
 *
 * A small C11 library that trains and runs multilayer perceptrons on the
 * CPU.  It has two levels:
 *
 *   1. Kernels on raw row-major arrays, one function per dtype
 *      (suffix _f32 / _f64): matrix product, dense layer forward/backward,
 *      activations, losses, optimiser updates, initialisation, dropout.
 *   2. A network object (fm_net_t) that owns one flat parameter buffer and
 *      runs prediction, one training step or a whole training epoch.
 *
 * Conventions (hold for every function below):
 *   - Matrices are row-major and C-contiguous unless a leading dimension
 *     (ld*) is given.  Shapes are written in comments as (rows, cols).
 *   - Weights are stored (n_in, n_out) so that Z = X·W + b.
 *   - Every function that can fail returns an int status (FM_OK == 0) and
 *     never prints, exits or aborts; fm_strerror() turns it into text.
 *     Constructors return NULL and write the status through *status.
 *   - Sizes are int64_t; a negative size is FM_ERR_ARG.  A size of zero is
 *     allowed where it is meaningful (it does nothing) and FM_ERR_ARG where
 *     it is not (an empty batch for a loss).
 *   - "n" in loss and gradient formulas is the batch's total sample weight
 *     (the number of rows when no weights are given).
 *
 * Environment:
 *   FASTMLP_ISA=avx512|avx2|generic   force one instruction-set path
 *                                     (read once, at first use).
 *   FASTMLP_NUM_THREADS=n             initial OpenMP thread count.
 */
#ifndef FASTMLP_H
#define FASTMLP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FM_VERSION_MAJOR 0
#define FM_VERSION_MINOR 1
#define FM_VERSION_PATCH 0

/* ------------------------------------------------------------------ */
/* Status codes                                                        */
/* ------------------------------------------------------------------ */

typedef enum {
    FM_OK = 0,
    FM_ERR_NOMEM = 1,        /* an allocation failed or would overflow      */
    FM_ERR_ARG = 2,          /* invalid argument (size, enum, NULL pointer) */
    FM_ERR_SHAPE = 3,        /* array shapes do not agree                   */
    FM_ERR_NONFINITE = 4,    /* NaN or inf in input, loss or parameters     */
    FM_ERR_NODERIV = 5,      /* gradient through step/sign (derivative 0)   */
    FM_ERR_ISA = 6,          /* requested ISA not supported by this CPU     */
    FM_ERR_IO = 7,           /* file could not be opened/read/written       */
    FM_ERR_FORMAT = 8,       /* not a fastmlp model file, or corrupted      */
    FM_ERR_VERSION = 9,      /* model file from a newer format version      */
    FM_ERR_CHECKSUM = 10,    /* model file checksum mismatch                */
    FM_ERR_INTERRUPTED = 11, /* a training callback asked to stop           */
    FM_ERR_LOSS_PAIR = 12,   /* loss not valid with this output activation  */
    FM_ERR_COUNT_
} fm_status_t;

/* Static English text for a status code; never NULL. */
const char *fm_strerror(int status);

/* Library version as "MAJOR.MINOR.PATCH". */
const char *fm_version(void);

/* ------------------------------------------------------------------ */
/* CPU dispatch and threads                                            */
/* ------------------------------------------------------------------ */

typedef enum {
    FM_ISA_GENERIC = 0, /* portable C                               */
    FM_ISA_AVX2 = 1,    /* AVX2 + FMA                               */
    FM_ISA_AVX512 = 2,  /* AVX-512F (with OS support for zmm state) */
    FM_ISA_COUNT_
} fm_isa_t;

/* Best ISA the CPU and OS support (probed once, cached). */
fm_isa_t fm_isa_detected(void);
/* ISA the kernels use now: FASTMLP_ISA if set and supported, else detected. */
fm_isa_t fm_isa_active(void);
/* Force an ISA for this process; FM_ERR_ISA if the CPU lacks it. Not
 * thread-safe against kernels running at the same time. */
int fm_isa_set(fm_isa_t isa);
/* "generic", "avx2", "avx512"; NULL for an invalid value. */
const char *fm_isa_name(fm_isa_t isa);
/* Parse a name as above (case-insensitive); -1 if unknown. */
int fm_isa_parse(const char *name);

/* OpenMP threads used by the kernels (1 when built without OpenMP). */
int fm_get_num_threads(void);
/* Set the thread count; n < 1 is FM_ERR_ARG. */
int fm_set_num_threads(int n);
/* 1 if the library was compiled with OpenMP, else 0. */
int fm_has_openmp(void);

/* ------------------------------------------------------------------ */
/* Matrix product                                                      */
/* ------------------------------------------------------------------ */

/*
 * C := alpha · op(A) · op(B) + beta · C, row-major, op(X) = X or Xᵀ.
 *   op(A): (M, K), op(B): (K, N), C: (M, N).
 *   A is (M, K) with lda >= K when trans_a == 0, else (K, M) with lda >= M;
 *   B is (K, N) with ldb >= N when trans_b == 0, else (N, K) with ldb >= K;
 *   ldc >= N.  When beta == 0, C is not read (NaN in C does not propagate).
 * The three forms a dense layer needs are (0,0) X·W, (1,0) Xᵀ·dZ and
 * (0,1) dZ·Wᵀ.  M, N or K may be 0 (K == 0 gives C := beta·C).
 */
int fm_gemm_f32(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K,
                float alpha, const float *A, int64_t lda, const float *B,
                int64_t ldb, float beta, float *C, int64_t ldc);
int fm_gemm_f64(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K,
                double alpha, const double *A, int64_t lda, const double *B,
                int64_t ldb, double beta, double *C, int64_t ldc);

/* ------------------------------------------------------------------ */
/* Input checks                                                        */
/* ------------------------------------------------------------------ */

/* 1 if every one of the n values of x is finite (no NaN, no ±inf), else
 * 0; 1 for n <= 0, 0 for x == NULL with n > 0.  Reads x in place and
 * allocates nothing (the check fm_net_train_epoch's callers make on X);
 * from 64 MiB of x the threads (fm_set_num_threads) share the scan. */
int fm_all_finite_f32(int64_t n, const float *x);
int fm_all_finite_f64(int64_t n, const double *x);

/* ------------------------------------------------------------------ */
/* Activations                                                         */
/* ------------------------------------------------------------------ */

typedef enum {
    FM_ACT_IDENTITY = 0,   /* g(z) = z                                    */
    FM_ACT_STEP = 1,       /* Heaviside: 1 if z >= 0 else 0; g' = 0       */
    FM_ACT_SIGN = 2,       /* 1 if z >= 0 else -1; g' = 0                 */
    FM_ACT_SIGMOID = 3,    /* 1/(1+e^-z); g' = g(1-g)                     */
    FM_ACT_TANH = 4,       /* tanh z; g' = 1-g²                           */
    FM_ACT_RELU = 5,       /* max(z,0); g' = [z>0]                        */
    FM_ACT_LEAKY_RELU = 6, /* z>0 ? z : a·z (a = param, default 0.01)     */
    FM_ACT_ELU = 7,        /* z>0 ? z : a(e^z-1) (a = param, default 1)   */
    FM_ACT_SELU = 8,       /* λ·(z>0 ? z : α(e^z-1)), fixed λ, α          */
    FM_ACT_GELU = 9,       /* z·Φ(z) (exact, erf form); needs Z for g'    */
    FM_ACT_SOFTPLUS = 10,  /* log(1+e^z); g' = σ(z) = 1-e^-g              */
    FM_ACT_SOFTMAX = 11,   /* row-wise e^z_j / Σ e^z_k (max subtracted)   */
    FM_ACT_EXP = 12,       /* e^z (output of the Poisson loss); g' = g    */
    FM_ACT_COUNT_
} fm_act_t;

/* SELU constants (Klambauer et al. 2017). */
#define FM_SELU_LAMBDA 1.0507009873554804934193349852946
#define FM_SELU_ALPHA 1.6732632423543772848170429916717

/* 1 if g'(z) cannot be recovered from A = g(Z) and backward needs Z. */
int fm_act_needs_z(fm_act_t act);
/* 1 if the activation has a zero derivative everywhere (step, sign). */
int fm_act_is_flat(fm_act_t act);

/*
 * A = g(Z), element-wise (softmax: per row).  Z, A: (rows, cols) with
 * leading dimensions ldz, lda >= cols.  A may alias Z (ldz == lda).
 * param: slope for leaky ReLU (>= 0), alpha for ELU (> 0), used as given;
 * ignored by the other activations.  FM_ERR_ARG if out of range.
 */
int fm_act_forward_f32(fm_act_t act, double param, int64_t rows, int64_t cols,
                       const float *Z, int64_t ldz, float *A, int64_t lda);
int fm_act_forward_f64(fm_act_t act, double param, int64_t rows, int64_t cols,
                       const double *Z, int64_t ldz, double *A, int64_t lda);

/*
 * dZ = dA ⊙ g'(Z) (softmax: dZ_i = A_i ⊙ (dA_i − ⟨dA_i, A_i⟩) per row).
 * All arrays (rows, cols) contiguous.  Z may be NULL unless
 * fm_act_needs_z(act).  dZ may alias dA.  Step and sign: FM_ERR_NODERIV.
 */
int fm_act_backward_f32(fm_act_t act, double param, int64_t rows, int64_t cols,
                        const float *Z, const float *A, const float *dA,
                        float *dZ);
int fm_act_backward_f64(fm_act_t act, double param, int64_t rows, int64_t cols,
                        const double *Z, const double *A, const double *dA,
                        double *dZ);

/* ------------------------------------------------------------------ */
/* Losses                                                              */
/* ------------------------------------------------------------------ */

typedef enum {
    /* ½·Σ_k (a_k − y_k)², averaged over samples (the course's E).
     * NB scikit-learn reports this divided by the number of outputs. */
    FM_LOSS_SQUARED = 0,
    /* −Σ_k [y log σ(z) + (1−y) log(1−σ(z))], from the logits z;
     * output activation must be sigmoid. */
    FM_LOSS_BINARY_CROSSENTROPY = 1,
    /* −Σ_k y_k log softmax(z)_k, from the logits; output must be softmax. */
    FM_LOSS_CATEGORICAL_CROSSENTROPY = 2,
    /* Half Poisson deviance Σ_k [y log(y/ŷ) − y + ŷ], ŷ = e^z; output exp. */
    FM_LOSS_POISSON = 3,
    FM_LOSS_COUNT_
} fm_loss_t;

/* FM_OK if the loss may follow this output activation, else
 * FM_ERR_LOSS_PAIR (BCE needs sigmoid, CCE softmax, Poisson exp). */
int fm_loss_check_pair(fm_loss_t loss, fm_act_t out_act);

/*
 * Loss value and its gradient w.r.t. the output layer's pre-activation.
 *   Z, A, Y, dZ: (n, k) contiguous; sw: (n,) sample weights or NULL.
 *   *value = Σ_i w_i ℓ_i / Σ_i w_i          (ℓ_i summed over the k outputs)
 *   dZ     = ∂value/∂Z                       (NULL: value only)
 * For the canonical pairs (identity+squared, sigmoid+BCE, softmax+CCE,
 * exp+Poisson) dZ_i = w_i (A_i − Y_i) / Σw, computed without forming
 * dA; otherwise (squared error after another activation) dZ is dA pushed
 * through fm_act_backward.  BCE/CCE/Poisson values are computed from Z,
 * never from log(A), so they stay finite for saturated outputs.
 * Errors: FM_ERR_ARG for n == 0 or Σw <= 0, FM_ERR_LOSS_PAIR,
 * FM_ERR_NODERIV when dZ is asked through step/sign.
 */
int fm_loss_f32(fm_loss_t loss, fm_act_t out_act, double act_param, int64_t n,
                int64_t k, const float *Z, const float *A, const float *Y,
                const float *sw, double *value, float *dZ);
int fm_loss_f64(fm_loss_t loss, fm_act_t out_act, double act_param, int64_t n,
                int64_t k, const double *Z, const double *A, const double *Y,
                const double *sw, double *value, double *dZ);

/* ------------------------------------------------------------------ */
/* Dense layer                                                         */
/* ------------------------------------------------------------------ */

/*
 * Forward: Z = X·W + b, A = g(Z), bias and activation applied to each
 * output tile as the product writes it.
 *   X: (n, n_in) row stride ldx >= n_in, W: (n_in, n_out), b: (n_out,),
 *   Z: (n, n_out) or NULL (not kept), A: (n, n_out).
 */
int fm_dense_forward_f32(float *Z, float *A, const float *X, int64_t ldx,
                         const float *W, const float *b, int64_t n,
                         int64_t n_in, int64_t n_out, fm_act_t act,
                         double act_param);
int fm_dense_forward_f64(double *Z, double *A, const double *X, int64_t ldx,
                         const double *W, const double *b, int64_t n,
                         int64_t n_in, int64_t n_out, fm_act_t act,
                         double act_param);

/*
 * Backward, given dZ (n, n_out) = ∂loss/∂Z of this layer:
 *   dW = Xᵀ·dZ  (n_in, n_out)     db = Σ_rows dZ  (n_out,)
 *   dX = dZ·Wᵀ  (n, n_in), or skipped when dX == NULL (first layer).
 * The 1/n scaling is already in dZ (see fm_loss_*).  To continue to the
 * previous layer, apply fm_act_backward to dX with that layer's Z/A.
 */
int fm_dense_backward_f32(float *dW, float *db, float *dX, const float *dZ,
                          const float *X, int64_t ldx, const float *W,
                          int64_t n, int64_t n_in, int64_t n_out);
int fm_dense_backward_f64(double *dW, double *db, double *dX,
                          const double *dZ, const double *X, int64_t ldx,
                          const double *W, int64_t n, int64_t n_in,
                          int64_t n_out);

/* ------------------------------------------------------------------ */
/* Optimisers: one fused pass over a contiguous span of parameters      */
/* ------------------------------------------------------------------ */

typedef enum {
    /* torch.optim.SGD: g' = g + wd·w; buf = μ·buf + g' (buf₁ = g');
     * w −= lr·(nesterov ? g' + μ·buf : buf).  μ = 0: plain SGD. */
    FM_OPT_SGD = 0,
    /* scikit-learn's SGD: v = μ·v − lr·g; w += nesterov ? μ·v − lr·g : v. */
    FM_OPT_SGD_VELOCITY = 1,
    /* The course's EWMA momentum: v = β·v + (1−β)·g; w −= lr·v. */
    FM_OPT_MOMENTUM_EWMA = 2,
    /* torch.optim.RMSprop (centered=False): s = α·s + (1−α)·g²;
     * u = g/(√s + ε) or, with eps_inside_sqrt (the course), g/√(s + ε);
     * momentum μ > 0: buf = μ·buf + u, w −= lr·buf; else w −= lr·u. */
    FM_OPT_RMSPROP = 3,
    /* torch.optim.Adam: m = β1·m + (1−β1)·g; s = β2·s + (1−β2)·g²;
     * w −= lr·(m/(1−β1ᵗ)) / (√(s/(1−β2ᵗ)) + ε). */
    FM_OPT_ADAM = 4,
    /* scikit-learn's Adam: same moments; lr_t = lr·√(1−β2ᵗ)/(1−β1ᵗ);
     * w −= lr_t·m/(√s + ε). */
    FM_OPT_ADAM_SKLEARN = 5,
    /* torch.optim.AdamW: w −= lr·wd·w first (decoupled), then Adam. */
    FM_OPT_ADAMW = 6,
    FM_OPT_COUNT_
} fm_opt_kind_t;

/* Hyper-parameters of one optimiser.  Fields a kind does not use are
 * ignored.  fm_optim_defaults() fills torch's defaults for the kind. */
typedef struct {
    fm_opt_kind_t kind;
    double lr;           /* learning rate η                                 */
    double momentum;     /* μ (SGD, SGD_VELOCITY, RMSPROP), β (EWMA)         */
    double beta1;        /* Adam family                                     */
    double beta2;        /* Adam family; α (smoothing) for RMSPROP           */
    double eps;          /* ε                                               */
    double weight_decay; /* torch-style wd, on every parameter (see kinds)  */
    int nesterov;        /* SGD, SGD_VELOCITY                               */
    int eps_inside_sqrt; /* RMSPROP: the course's √(s + ε)                  */
} fm_optim_t;

/* Fill *opt with torch's defaults for kind (sklearn's for *_SKLEARN and
 * SGD_VELOCITY); FM_ERR_ARG for an unknown kind. */
int fm_optim_defaults(fm_opt_kind_t kind, fm_optim_t *opt);
/* Number of state buffers (each as long as the parameters) a kind needs:
 * 0 (plain SGD), 1 or 2. */
int fm_optim_n_state(const fm_optim_t *opt);

/*
 * One update of n parameters w with gradient g, in one pass.
 *   s1, s2: state buffers (n,) zeroed before step 1, NULL if unused;
 *   t: 1-based step count (bias correction).
 *   l2, l1: the course's / scikit-learn's penalty, already divided by the
 *   batch's n: the gradient used is g + l2·w + l1·sign(w) (pass 0 for
 *   biases).  weight_decay in *opt is applied as the kind says.
 *   *abs_grad_sum (may be NULL) receives Σ|g| of the raw gradient, before
 *   any penalty (for the vanishing-gradient statistics).
 * g is not modified.  FM_ERR_ARG for t < 1 or bad hyper-parameters.
 */
int fm_optim_step_f32(const fm_optim_t *opt, int64_t t, int64_t n, float *w,
                      const float *g, float *s1, float *s2, double l2,
                      double l1, double *abs_grad_sum);
int fm_optim_step_f64(const fm_optim_t *opt, int64_t t, int64_t n, double *w,
                      const double *g, double *s1, double *s2, double l2,
                      double l1, double *abs_grad_sum);

/* ------------------------------------------------------------------ */
/* Random numbers, initialisation, dropout                              */
/* ------------------------------------------------------------------ */

/*
 * Counter-based generator: every random number is a pure function of
 * (key, counter), so any backend (C, NumPy) and any thread count draws
 * the same values.  fm_rng_u64 = splitmix64 finaliser of
 * key + (counter + 1)·0x9E3779B97F4A7C15.
 * fm_rng_key derives independent keys: key = fm_rng_u64(seed, stream).
 */
uint64_t fm_rng_u64(uint64_t key, uint64_t counter);
uint64_t fm_rng_key(uint64_t seed, uint64_t stream);
/* Uniform double in [0, 1): (u64 >> 11)·2⁻⁵³. */
double fm_rng_uniform(uint64_t key, uint64_t counter);
/* Standard normal by Box–Muller from counters 2c and 2c+1:
 * √(−2 ln(1 − u₁))·cos(2π u₂). */
double fm_rng_normal(uint64_t key, uint64_t counter);

/* Stream ids used with fm_rng_key (fixed: they define reproducibility). */
#define FM_STREAM_INIT 1u    /* + layer index: weights of layer l        */
#define FM_STREAM_SHUFFLE 2u /* epoch permutation                        */
#define FM_STREAM_DROPOUT 3u /* dropout masks                            */

typedef enum {
    FM_INIT_LECUN_NORMAL = 0,   /* N(0, 1/fan_in)                           */
    FM_INIT_LECUN_UNIFORM = 1,  /* U(±√(3/fan_in))                          */
    FM_INIT_GLOROT_NORMAL = 2,  /* N(0, 2/(fan_in+fan_out))                 */
    FM_INIT_GLOROT_UNIFORM = 3, /* U(±√(6/(fan_in+fan_out)))                */
    FM_INIT_HE_NORMAL = 4,      /* N(0, 2/fan_in)                           */
    FM_INIT_HE_UNIFORM = 5,     /* U(±√(6/fan_in))                          */
    /* scikit-learn's: U(±√(f/(fan_in+fan_out))), f = 2 when the
     * network's hidden activation is sigmoid (gain_sigmoid, the caller's
     * choice for every layer) else 6; biases drawn from the same law */
    FM_INIT_SKLEARN = 6,
    FM_INIT_COUNT_
} fm_init_t;

/*
 * Fill W (fan_in, fan_out) and b (fan_out,) for one layer from key.
 * Weight j uses counter j; bias j (FM_INIT_SKLEARN only, else zero) uses
 * counter fan_in·fan_out + j.  gain_sigmoid selects f = 2 for SKLEARN.
 */
int fm_init_layer_f32(fm_init_t init, uint64_t key, int64_t fan_in,
                      int64_t fan_out, int gain_sigmoid, float *W, float *b);
int fm_init_layer_f64(fm_init_t init, uint64_t key, int64_t fan_in,
                      int64_t fan_out, int gain_sigmoid, double *W, double *b);

/*
 * Inverted dropout in place on A (rows, cols): element e = r·cols + c is
 * kept when fm_rng_uniform(key, counter0 + e) >= p and then scaled by
 * 1/(1−p); dropped elements become 0.  mask (rows, cols) receives the
 * applied factor (0 or 1/(1−p)) for backward; p in [0, 1).
 */
int fm_dropout_forward_f32(double p, uint64_t key, uint64_t counter0,
                           int64_t rows, int64_t cols, float *A, float *mask);
int fm_dropout_forward_f64(double p, uint64_t key, uint64_t counter0,
                           int64_t rows, int64_t cols, double *A,
                           double *mask);

/* ------------------------------------------------------------------ */
/* Network                                                             */
/* ------------------------------------------------------------------ */

typedef enum { FM_F32 = 0, FM_F64 = 1 } fm_dtype_t;

/* One dense layer of a network. */
typedef struct {
    int64_t units;     /* output width                                 */
    fm_act_t act;      /* activation                                   */
    double act_param;  /* leaky slope (>= 0) / ELU alpha (> 0), used as
                          given (Python fills the defaults 0.01 / 1)    */
    fm_init_t init;    /* initialiser                                  */
    double dropout;    /* drop probability on this layer's output, [0,1);
                          must be 0 on the last layer                  */
} fm_layer_t;

typedef struct fm_net fm_net_t; /* opaque */

/*
 * Create a network with n_layers dense layers after n_in inputs.
 * Parameters are one aligned, zeroed buffer laid out layer by layer as
 * [W0 (n_in, u0), b0 (u0,), W1 (u0, u1), b1, ...]; gradients and
 * optimiser state mirror it element for element.  Returns NULL and
 * *status on error (FM_ERR_ARG, FM_ERR_NOMEM for absurd sizes: every
 * size product is checked for overflow before allocating).
 */
fm_net_t *fm_net_create(fm_dtype_t dtype, int64_t n_in, int n_layers,
                        const fm_layer_t *layers, int *status);
/* Free everything the network owns; NULL is a no-op. */
void fm_net_free(fm_net_t *net);

fm_dtype_t fm_net_dtype(const fm_net_t *net);
int64_t fm_net_n_in(const fm_net_t *net);
int64_t fm_net_n_out(const fm_net_t *net);
int fm_net_n_layers(const fm_net_t *net);
/* Layer l's description (NULL if l is out of range). */
const fm_layer_t *fm_net_layer(const fm_net_t *net, int l);
/* Total number of parameters (elements of the flat buffer). */
int64_t fm_net_n_params(const fm_net_t *net);
/* The flat parameter buffer (float* or double* by dtype); writable. */
void *fm_net_params(fm_net_t *net);
/* Element offsets of W_l and b_l inside the flat buffer; -1 if invalid. */
int64_t fm_net_weight_offset(const fm_net_t *net, int l);
int64_t fm_net_bias_offset(const fm_net_t *net, int l);

/* Initialise every layer with its initialiser from seed (key of layer l =
 * fm_rng_key(seed, FM_STREAM_INIT + l)), zero optimiser state, t = 0. */
int fm_net_init(fm_net_t *net, uint64_t seed);

/*
 * Inference: out (n, n_out) = network(X), X (n, n_in) with row stride
 * ldx >= n_in, both of the network's dtype.  No dropout.  Thread-safe:
 * any number of threads may predict with one network at once (scratch is
 * per call).  n == 0 is allowed.  FM_ERR_NONFINITE if X holds a NaN or an
 * infinity (out is then unspecified): each chunk of rows is scanned just
 * before the products read it, so the check costs almost nothing.  The
 * rows go in near-equal chunks of at most 128 (their cut depends on n
 * alone, so the results do not depend on the thread count); with enough
 * chunks each thread takes whole chunks, else each product uses the
 * threads.
 */
int fm_net_predict(const fm_net_t *net, int64_t n, const void *X,
                   int64_t ldx, void *out);

/* Training configuration (everything that is not a layer). */
typedef struct {
    fm_loss_t loss;
    fm_optim_t opt;
    double l2;          /* λ: penalty λ/(2n)·Σ‖W‖² on weights only      */
    double l1;          /* penalty l1/n·Σ|W| on weights only            */
    int64_t batch_size; /* >= 1; the last batch of an epoch may be short */
    int shuffle;        /* permute samples each epoch                    */
    uint64_t seed;      /* for shuffling and dropout                     */
    /* Called between batches with the batch index; a non-zero return
     * stops the epoch with FM_ERR_INTERRUPTED after that batch's update.
     * May be NULL. */
    int (*should_stop)(void *ctx, int64_t batch);
    void *ctx;
} fm_train_cfg_t;

/* Statistics of one epoch (or one step).  The arrays have n_layers
 * entries and are provided by the caller (may be NULL). */
typedef struct {
    double loss;       /* mean data loss over the epoch's samples
                          (Σ_batches loss_b·n_b / Σ n_b, weights in n_b) */
    double penalty;    /* l2/l1 penalty, weighted mean over batches of
                          each batch's penalty (see docs/MATH.md)       */
    int64_t n_batches; /* batches run                                   */
    int64_t t;         /* optimiser step count after the epoch           */
    double *grad_w;    /* per layer: mean over batches of mean|dW|       */
    double *grad_b;    /* per layer: mean over batches of mean|db|       */
} fm_epoch_stats_t;

/*
 * One optimiser step on the batch X (n, n_in), Y (n, n_out), sw (n,) or
 * NULL: forward (with dropout), loss, backward, update of every layer.
 * Allocates nothing after the first call for a given batch size.
 * FM_ERR_NONFINITE if the loss is not finite: parameters are then left
 * as they were before the step.  Not thread-safe on one network.
 */
int fm_net_train_step(fm_net_t *net, const fm_train_cfg_t *cfg, int64_t n,
                      const void *X, const void *Y, const void *sw,
                      fm_epoch_stats_t *stats);

/*
 * One epoch over n samples: permutation of 0..n-1 by sorting
 * fm_rng_u64(fm_rng_key(seed, FM_STREAM_SHUFFLE), epoch·n + i) (ties by
 * index) when cfg->shuffle, else identity; batches of cfg->batch_size
 * gathered into a reusable buffer; one fm_net_train_step each.
 * Stops at the first non-finite loss with FM_ERR_NONFINITE (parameters
 * as before that batch) and at a should_stop request with
 * FM_ERR_INTERRUPTED; stats then cover the batches that ran.
 */
int fm_net_train_epoch(fm_net_t *net, const fm_train_cfg_t *cfg, int64_t n,
                       const void *X, const void *Y, const void *sw,
                       int64_t epoch, fm_epoch_stats_t *stats);

/* Mean loss of the network on (X, Y, sw) without dropout or update;
 * *penalty as in fm_epoch_stats_t with n = Σw of this data.  Rows go in
 * chunks, spread over the threads as fm_net_predict's; the chunks'
 * terms are added in chunk order, so the value does not depend on the
 * thread count. */
int fm_net_evaluate(const fm_net_t *net, const fm_train_cfg_t *cfg, int64_t n,
                    const void *X, const void *Y, const void *sw,
                    double *loss, double *penalty);

/*
 * Full-batch objective and its gradient at the current parameters, for
 * quasi-Newton solvers (L-BFGS): no update, no dropout, t unchanged.
 *   *loss = data loss (as fm_net_evaluate) + penalty (λ/(2W)·Σ‖W‖² +
 *   l1/W·Σ|W|, W = Σw);  grad (n_params, the net's dtype, flat layout) =
 *   ∂loss/∂params, penalty terms included on the weights.
 * Processes X in chunks of at most 4096 rows in the training workspace
 * (so, like training, not thread-safe on one network).
 */
int fm_net_loss_grad(fm_net_t *net, const fm_train_cfg_t *cfg, int64_t n,
                     const void *X, const void *Y, const void *sw,
                     double *loss, void *grad);

/* Optimiser step count and state access (state s has n_params entries;
 * NULL if the optimiser kind does not use it). */
int64_t fm_net_step_count(const fm_net_t *net);
int fm_net_set_step_count(fm_net_t *net, int64_t t);
void *fm_net_opt_state(fm_net_t *net, int s);
/* Drop optimiser state (zero it, t = 0), e.g. after changing optimiser. */
void fm_net_reset_optimizer(fm_net_t *net);

/* ------------------------------------------------------------------ */
/* Model files (format: docs/FORMAT.md)                                 */
/* ------------------------------------------------------------------ */

/*
 * Save the network (architecture + parameters, optional standardisation
 * mean/scale of length n_in, optional opaque metadata bytes) atomically:
 * written to "path.tmp-XXXXXX" in the same folder, then renamed.
 */
int fm_model_save(const fm_net_t *net, const char *path, const void *mean,
                  const void *scale, const char *meta, size_t meta_len);

/*
 * Load a model file.  Every length is checked against the file size
 * before anything is allocated; a truncated, corrupted, foreign or newer
 * file gives FM_ERR_FORMAT / FM_ERR_CHECKSUM / FM_ERR_VERSION.
 * On success *net is a new network; *mean, *scale (n_in values of the
 * net's dtype, or NULL when the file has none) and *meta (NUL-terminated,
 * length *meta_len, or NULL) are malloc'ed and owned by the caller, who
 * frees them with free().  Any of mean/scale/meta may be passed as NULL
 * when not wanted.
 */
int fm_model_load(const char *path, fm_net_t **net, void **mean, void **scale,
                  char **meta, size_t *meta_len);

/* Same as fm_model_load, from a buffer in memory. */
int fm_model_load_buffer(const void *buf, size_t len, fm_net_t **net,
                         void **mean, void **scale, char **meta,
                         size_t *meta_len);

#ifdef __cplusplus
}
#endif
#endif /* FASTMLP_H */
