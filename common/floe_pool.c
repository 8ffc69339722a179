/*
 * Two lists under one mutex: `todo` (submitted, not started) and `done` (work finished,
 * done function not yet called). Batches: at most one per batch function runs at a time,
 * so what queues meanwhile is taken together by the next (the fewest commits for the
 * same work, and no thread waits on a timer to fill one). A thread that finishes a job moves it to
 * `done` and, if the list was empty, writes the eventfd once; the loop swaps the whole list out and
 * calls the done functions, at most POOL_BATCH per wake-up so timers and sockets are
 * served between batches.
 */
#include "floe_pool.h"

#include "floe_mem.h"

#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define POOL_BATCH 64

typedef struct pool_job {
    struct pool_job *next;
    floe_pool_work_fn work;
    floe_pool_step_fn step;   /* instead of work: then batch, if it says so */
    floe_pool_batch_fn batch; /* instead of work (or after step) */
    floe_pool_done_fn done;
    void *job;
} pool_job;

typedef struct pool_list {
    pool_job *head, *tail;
} pool_list;

struct floe_pool {
    floe_pool_config cfg;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pool_list todo, done;
    unsigned queued, running, finished;
    int stopping;
    int efd;
    struct event *ev;
    pthread_t *threads;
    unsigned n_threads;
    floe_pool_batch_fn *busy; /* per thread: the batch it runs, or NULL */
};

static void
list_push(pool_list *l, pool_job *j)
{
    j->next = NULL;
    if (l->tail != NULL)
        l->tail->next = j;
    else
        l->head = j;
    l->tail = j;
}

static pool_job *
list_pop(pool_list *l)
{
    pool_job *j = l->head;
    if (j != NULL) {
        l->head = j->next;
        if (l->head == NULL)
            l->tail = NULL;
    }
    return j;
}

/* The next job a thread may take: the first queued whose batch function no thread is
 * running (its jobs wait for that batch, and are then taken together). The look is bounded;
 * NULL when there is none within it. With the lock held. */
static pool_job *
next_job(floe_pool *pool)
{
    pool_job **link = &pool->todo.head, *prev = NULL;
    for (unsigned looked = 0; *link != NULL && looked < 4 * FLOE_POOL_BATCH_MAX; looked++) {
        pool_job *j = *link;
        bool taken = false;
        for (unsigned t = 0; j->batch != NULL && j->step == NULL && !taken && t < pool->cfg.threads;
             t++)
            taken = pool->busy[t] == j->batch;
        if (!taken) {
            *link = j->next;
            if (pool->todo.tail == j)
                pool->todo.tail = prev;
            return j;
        }
        prev = j;
        link = &j->next;
    }
    return NULL;
}

/* Unlinks from todo the jobs queued behind first with its batch function, up to the
 * batch's room, into b (first included); with the lock held. The look is bounded so a
 * long queue of other work does not make the lock's holder scan it all. */
static size_t
take_batch(floe_pool *pool, pool_job *first, pool_list *b, void **jobs)
{
    size_t n = 0, looked = 0;
    list_push(b, first);
    jobs[n++] = first->job;
    pool_job **link = &pool->todo.head, *prev = NULL;
    while (*link != NULL && n < FLOE_POOL_BATCH_MAX && looked++ < 4 * FLOE_POOL_BATCH_MAX) {
        pool_job *j = *link;
        if (j->batch != first->batch ||
            j->step != NULL) { /* another kind, or before its first step */
            prev = j;
            link = &j->next;
            continue;
        }
        *link = j->next;
        if (pool->todo.tail == j)
            pool->todo.tail = prev;
        list_push(b, j);
        jobs[n++] = j->job;
    }
    return n;
}

/* A job's first step (floe_pool_submit_then_batch), with the lock held on entry and
 * return: true when the job went back to todo for its batch (at the tail, in submission
 * order with the others; this thread takes it next when nothing is ahead), false when it
 * is done (still counted as running, as a job whose work just ended). */
static bool
step_job(floe_pool *pool, pool_job *j, void *ctx)
{
    pool->queued--;
    pool->running++;
    pthread_mutex_unlock(&pool->lock);
    bool go_on = j->step(ctx, j->job);
    pthread_mutex_lock(&pool->lock);
    if (!go_on)
        return false;
    j->step = NULL;
    pool->running--;
    pool->queued++;
    bool ahead = pool->todo.head != NULL;
    list_push(&pool->todo, j);
    if (ahead) /* another thread may take it before this one is through what is ahead */
        pthread_cond_signal(&pool->cond);
    return true;
}

typedef struct pool_thread_arg {
    floe_pool *pool;
    unsigned no;
} pool_thread_arg;

static void *
pool_thread(void *arg)
{
    pool_thread_arg *ta = arg;
    floe_pool *pool = ta->pool;
    unsigned no = ta->no;
    floe_free(ta);
    if (pool->cfg.name != NULL) {
        char name[16], num[12]; /* the kernel's limit, with its NUL; the number kept whole */
        int digits = snprintf(num, sizeof(num), "-%u", no);
        snprintf(name, sizeof(name), "%.*s%s", (int)sizeof(name) - 1 - digits, pool->cfg.name, num);
        pthread_setname_np(pthread_self(), name);
    }
    void *ctx = pool->cfg.thread_init != NULL ? pool->cfg.thread_init(pool->cfg.arg) : NULL;
    void *jobs[FLOE_POOL_BATCH_MAX];
    pthread_mutex_lock(&pool->lock);
    for (;;) {
        pool_job *j = next_job(pool);
        if (j == NULL) {
            if (pool->stopping)
                break;
            pthread_cond_wait(&pool->cond, &pool->lock);
            continue;
        }
        pool_list b = {0};
        size_t n = 1;
        if (j->step != NULL) {
            if (step_job(pool, j, ctx))
                continue; /* back in todo for its batch */
            list_push(&b, j);
        } else {
            if (j->batch != NULL)
                n = take_batch(pool, j, &b, jobs);
            else
                list_push(&b, j);
            pool->queued -= (unsigned)n;
            pool->running += (unsigned)n;
            pool->busy[no] = j->batch;
            pthread_mutex_unlock(&pool->lock);
            if (j->batch != NULL)
                j->batch(ctx, jobs, n);
            else
                j->work(ctx, j->job);
            pthread_mutex_lock(&pool->lock);
            pool->busy[no] = NULL;
        }
        pool->running -= (unsigned)n;
        pool->finished += (unsigned)n;
        int was_empty = pool->done.head == NULL;
        while ((j = list_pop(&b)) != NULL)
            list_push(&pool->done, j);
        if (was_empty) {
            uint64_t one = 1;
            ssize_t w = write(pool->efd, &one, sizeof(one));
            (void)w; /* a full counter still wakes the loop */
        }
    }
    pthread_mutex_unlock(&pool->lock);
    if (pool->cfg.thread_fini != NULL)
        pool->cfg.thread_fini(ctx);
    return NULL;
}

/* Calls up to max done functions; returns how many remain. */
static unsigned
pool_deliver(floe_pool *pool, unsigned max)
{
    pthread_mutex_lock(&pool->lock);
    pool_list batch = {0};
    unsigned n = 0;
    pool_job *j;
    while (n < max && (j = list_pop(&pool->done)) != NULL) {
        list_push(&batch, j);
        n++;
    }
    pool->finished -= n;
    unsigned left = pool->finished;
    pthread_mutex_unlock(&pool->lock);
    while ((j = list_pop(&batch)) != NULL) {
        j->done(j->job);
        floe_free(j);
    }
    return left;
}

static void
pool_on_wake(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    floe_pool *pool = arg;
    uint64_t count;
    ssize_t n = read(fd, &count, sizeof(count));
    (void)n; /* EAGAIN: another wake-up already drained it */
    if (pool_deliver(pool, POOL_BATCH) > 0)
        event_active(pool->ev, EV_READ, 0);
}

floe_pool *
floe_pool_new(struct event_base *base, const floe_pool_config *pc, floe_err *err)
{
    floe_pool *pool = floe_calloc(1, sizeof(*pool));
    if (pool == NULL) {
        floe_err_sys(err, FLOE_ENOMEM, "pool: out of memory");
        return NULL;
    }
    pool->cfg = *pc;
    if (pool->cfg.threads == 0)
        pool->cfg.threads = 1;
    pool->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (pool->efd == -1) {
        floe_err_sys(err, FLOE_EIO, "pool: eventfd: %s", strerror(errno));
        goto fail_efd;
    }
    pool->ev = event_new(base, pool->efd, EV_READ | EV_PERSIST, pool_on_wake, pool);
    if (pool->ev == NULL || event_add(pool->ev, NULL) != 0) {
        floe_err_sys(err, FLOE_ENOMEM, "pool: cannot register its event");
        goto fail_ev;
    }
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->cond, NULL);
    pool->threads = floe_calloc(pool->cfg.threads, sizeof(*pool->threads));
    pool->busy = floe_calloc(pool->cfg.threads, sizeof(*pool->busy));
    if (pool->threads == NULL || pool->busy == NULL) {
        floe_err_sys(err, FLOE_ENOMEM, "pool: out of memory");
        goto fail_threads;
    }
    for (; pool->n_threads < pool->cfg.threads; pool->n_threads++) {
        pool_thread_arg *ta = floe_malloc(sizeof(*ta));
        int e = ENOMEM;
        if (ta != NULL) {
            *ta = (pool_thread_arg){pool, pool->n_threads};
            if ((e = pthread_create(&pool->threads[pool->n_threads], NULL, pool_thread, ta)) != 0)
                floe_free(ta);
        }
        if (e != 0) {
            floe_err_sys(err, FLOE_EIO, "pool: pthread_create: %s", strerror(e));
            floe_pool_free(pool);
            return NULL;
        }
    }
    return pool;
fail_threads:
    floe_free(pool->threads);
    floe_free(pool->busy);
    pthread_cond_destroy(&pool->cond);
    pthread_mutex_destroy(&pool->lock);
fail_ev:
    if (pool->ev != NULL)
        event_free(pool->ev);
    close(pool->efd);
fail_efd:
    floe_free(pool);
    return NULL;
}

static floe_rc
pool_submit(floe_pool *pool, floe_pool_work_fn work, floe_pool_step_fn step,
            floe_pool_batch_fn batch, floe_pool_done_fn done, void *job)
{
    pool_job *j = floe_malloc(sizeof(*j));
    if (j == NULL)
        return FLOE_ENOMEM;
    j->work = work;
    j->step = step;
    j->batch = batch;
    j->done = done;
    j->job = job;
    pthread_mutex_lock(&pool->lock);
    floe_rc rc = FLOE_OK;
    if (pool->stopping)
        rc = FLOE_ESTATE;
    else if (pool->cfg.queue_max > 0 && pool->queued >= pool->cfg.queue_max)
        rc = FLOE_EAGAIN;
    if (rc == FLOE_OK) {
        list_push(&pool->todo, j);
        pool->queued++;
        pthread_cond_signal(&pool->cond);
    }
    pthread_mutex_unlock(&pool->lock);
    if (rc != FLOE_OK)
        floe_free(j);
    return rc;
}

floe_rc
floe_pool_submit(floe_pool *pool, floe_pool_work_fn work, floe_pool_done_fn done, void *job)
{
    return pool_submit(pool, work, NULL, NULL, done, job);
}

floe_rc
floe_pool_submit_batch(floe_pool *pool, floe_pool_batch_fn batch, floe_pool_done_fn done, void *job)
{
    return pool_submit(pool, NULL, NULL, batch, done, job);
}

floe_rc
floe_pool_submit_then_batch(floe_pool *pool, floe_pool_step_fn step, floe_pool_batch_fn batch,
                            floe_pool_done_fn done, void *job)
{
    return pool_submit(pool, NULL, step, batch, done, job);
}

unsigned
floe_pool_pending(floe_pool *pool)
{
    pthread_mutex_lock(&pool->lock);
    unsigned n = pool->queued + pool->running + pool->finished;
    pthread_mutex_unlock(&pool->lock);
    return n;
}

void
floe_pool_free(floe_pool *pool)
{
    if (pool == NULL)
        return;
    pthread_mutex_lock(&pool->lock);
    pool->stopping = 1;
    pthread_cond_broadcast(&pool->cond);
    pthread_mutex_unlock(&pool->lock);
    for (unsigned i = 0; i < pool->n_threads; i++)
        pthread_join(pool->threads[i], NULL);
    while (pool_deliver(pool, UINT32_MAX) > 0)
        ;
    floe_free(pool->threads);
    floe_free(pool->busy);
    pthread_cond_destroy(&pool->cond);
    pthread_mutex_destroy(&pool->lock);
    event_free(pool->ev);
    close(pool->efd);
    floe_free(pool);
}
